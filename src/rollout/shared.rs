//! The guard's state shared by every worker of one Envoy: per rollout entry one record (the hash of
//! the configuration in force, the stage last announced, the window of counts), kept in a store
//! that offers compare-and-swap on bytes (proxy-wasm shared data; a map in process memory for the
//! native module). The rules that make it safe under contention live here, tested with a fake store:
//!
//! - a key is created with a compare-and-swap, never overwritten once it exists;
//! - a write that loses a race is retried on fresh bytes, and counts that could not be published
//!   go back to the caller to publish on the next tick: none is ever lost to contention;
//! - keys are named by entry, not by configuration: a new configuration takes the entry's key over
//!   (its hash differs), so pushes reuse keys instead of adding some; the same configuration pushed
//!   again keeps its record, trip included;
//! - a configuration that is no longer in force (another took its key over) writes nothing.

use super::guard::{Totals, Window, WINDOW_BYTES};

/// A key's value and its version, as the store gave them out.
pub struct Versioned {
    pub value: Vec<u8>,
    pub version: u32,
}

/// The store could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteError {
    /// The key changed since it was read (or was created meanwhile): read again.
    Mismatch,
    /// The store refused the write.
    Failed,
}

/// A key-value store with compare-and-swap, shared by the workers (proxy-wasm shared data's rules).
pub trait CasStore {
    /// The key's value and version; `Ok(None)` when absent.
    fn get(&self, key: &str) -> Result<Option<Versioned>, ReadError>;
    /// Writes when the key's version is still `version`; when the key is absent, creates it.
    fn set(&self, key: &str, value: &[u8], version: u32) -> Result<(), WriteError>;
}

/// The version a creation compares against. proxy-wasm shared data cannot create only-if-absent:
/// any version creates an absent key, and a key that exists meanwhile is written only when its
/// version matches. Versions count up from 1 over every write of the VM's shared data, so a key
/// another worker just created carries a small one, never this.
pub const CREATE_VERSION: u32 = u32::MAX;

/// Attempts of one compare-and-swap loop; counts not published go back to the caller.
const ATTEMPTS: usize = 8;

/// The prefix of every key; the entry name follows.
pub const KEY_PREFIX: &str = "traffic-shift/rollout/";

const HEADER_BYTES: usize = 16;
const RECORD_BYTES: usize = HEADER_BYTES + WINDOW_BYTES;

/// One entry's shared record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// The configuration the record belongs to.
    pub config_hash: u64,
    /// The [`super::Stage::order`] last announced; 0 before any.
    pub announced: u64,
    pub window: Window,
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let field = bytes.get(at..at + 8)?;
    <[u8; 8]>::try_from(field).ok().map(u64::from_le_bytes)
}

impl Record {
    pub fn new(config_hash: u64) -> Self {
        Record {
            config_hash,
            ..Record::default()
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(RECORD_BYTES);
        bytes.extend_from_slice(&self.config_hash.to_le_bytes());
        bytes.extend_from_slice(&self.announced.to_le_bytes());
        bytes.extend_from_slice(&self.window.encode());
        bytes
    }

    /// `None` for bytes [`Record::encode`] did not write (then the key is taken over).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != RECORD_BYTES {
            return None;
        }
        Some(Record {
            config_hash: u64_at(bytes, 0)?,
            announced: u64_at(bytes, 8)?,
            window: Window::decode(bytes.get(HEADER_BYTES..)?),
        })
    }
}

/// What publishing counts came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Added; the window's totals after.
    Totals(Totals),
    /// Not added this time (contention, or the store failed): publish them again later.
    Kept(Totals),
    /// Another configuration is in force: these counts belong to nothing any more.
    Superseded,
}

/// What claiming a record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    /// The key was absent: this caller created it.
    Created,
    /// The key held another configuration's record: this caller replaced it (the key is reused).
    TakenOver,
    /// The key already held this configuration's record (another worker's claim, or a re-push).
    Kept,
}

/// One entry's record in a [`CasStore`], for one configuration.
pub struct SharedRecord<S> {
    store: S,
    key: String,
    config_hash: u64,
    claimed: Claimed,
}

impl<S: CasStore> SharedRecord<S> {
    /// The record of entry `entry` for the configuration hashed `config_hash`: created when absent,
    /// taken over when it belongs to another configuration, kept when it is this one's.
    pub fn claim(store: S, entry: &str, config_hash: u64) -> Self {
        let mut shared = SharedRecord {
            store,
            key: format!("{KEY_PREFIX}{entry}"),
            config_hash,
            claimed: Claimed::Kept,
        };
        for _ in 0..ATTEMPTS {
            let (version, current, absent) = match shared.store.get(&shared.key) {
                Ok(Some(found)) => (found.version, Record::decode(&found.value), false),
                Ok(None) => (CREATE_VERSION, None, true),
                Err(ReadError) => break,
            };
            if current.is_some_and(|r| r.config_hash == config_hash) {
                break;
            }
            let fresh = Record::new(config_hash).encode();
            match shared.store.set(&shared.key, &fresh, version) {
                Ok(()) => {
                    shared.claimed = if absent {
                        Claimed::Created
                    } else {
                        Claimed::TakenOver
                    };
                    break;
                }
                Err(WriteError::Failed) => break,
                Err(WriteError::Mismatch) => continue,
            }
        }
        shared
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn claimed(&self) -> Claimed {
        self.claimed
    }

    /// This configuration's record and its version; `None` when unreadable or not this one's.
    fn read(&self) -> Option<(Record, u32)> {
        let found = self.store.get(&self.key).ok()??;
        let record = Record::decode(&found.value)?;
        (record.config_hash == self.config_hash).then_some((record, found.version))
    }

    /// Whether another configuration took the key over (or it cannot be read).
    pub fn superseded(&self) -> bool {
        self.read().is_none()
    }

    /// The stage order last announced (0 when none, or not this configuration's).
    pub fn announced(&self) -> u64 {
        self.read().map_or(0, |(record, _)| record.announced)
    }

    /// Moves the announced stage forward to `order`; true for the one caller that did.
    pub fn announce(&self, order: u64) -> bool {
        self.update(|record| {
            if record.announced >= order {
                return false;
            }
            record.announced = order;
            true
        }) == Some(true)
    }

    /// Adds counts to the window at `now_ms`.
    pub fn publish(&self, now_ms: i64, bucket_ms: u64, counts: Totals) -> Published {
        let mut totals = Totals::default();
        let updated = self.update(|record| {
            record.window.add(now_ms, bucket_ms, counts);
            totals = record.window.totals(now_ms, bucket_ms);
            true
        });
        match updated {
            Some(true) => Published::Totals(totals),
            Some(false) => Published::Kept(counts),
            None if self.superseded() => Published::Superseded,
            None => Published::Kept(counts),
        }
    }

    /// Read, change, compare-and-swap, again on a lost race. `Some(changed)` once written (or when
    /// `change` had nothing to write), `None` when it could not write or the record is not ours.
    fn update(&self, mut change: impl FnMut(&mut Record) -> bool) -> Option<bool> {
        for _ in 0..ATTEMPTS {
            let (mut record, version) = self.read()?;
            if !change(&mut record) {
                return Some(false);
            }
            match self.store.set(&self.key, &record.encode(), version) {
                Ok(()) => return Some(true),
                Err(WriteError::Mismatch) => continue,
                Err(WriteError::Failed) => return None,
            }
        }
        None
    }
}

/// A store in process memory with proxy-wasm's rules: what the native module shares between its
/// worker threads, and what the unit tests race workers on.
#[derive(Debug, Default)]
pub struct ProcessStore {
    map: std::sync::Mutex<ProcessMap>,
}

#[derive(Debug, Default)]
struct ProcessMap {
    values: std::collections::HashMap<String, (Vec<u8>, u32)>,
    last_version: u32,
}

impl ProcessStore {
    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.values.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl CasStore for &ProcessStore {
    fn get(&self, key: &str) -> Result<Option<Versioned>, ReadError> {
        let map = self.map.lock().map_err(|_| ReadError)?;
        Ok(map.values.get(key).map(|(value, version)| Versioned {
            value: value.clone(),
            version: *version,
        }))
    }

    fn set(&self, key: &str, value: &[u8], version: u32) -> Result<(), WriteError> {
        let mut map = self.map.lock().map_err(|_| WriteError::Failed)?;
        // Versions count up from 1 and skip 0, as proxy-wasm's do.
        let next = match map.last_version.wrapping_add(1) {
            0 => 1,
            v => v,
        };
        match map.values.get_mut(key) {
            Some((_, current)) if version != 0 && version != *current => {
                return Err(WriteError::Mismatch)
            }
            Some(slot) => *slot = (value.to_vec(), next),
            None => {
                map.values.insert(key.to_string(), (value.to_vec(), next));
            }
        }
        map.last_version = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const T0: i64 = 1_796_119_200_000;
    const BUCKET: u64 = 1_000;

    fn counts(requests: u64, errors: u64) -> Totals {
        Totals { requests, errors }
    }

    /// A store whose every `set` first lets `interleave` write (another worker winning the race).
    struct Racing<'s> {
        store: &'s ProcessStore,
        interleave: Cell<Option<Box<dyn FnOnce() + 's>>>,
    }

    impl CasStore for &Racing<'_> {
        fn get(&self, key: &str) -> Result<Option<Versioned>, ReadError> {
            (&self.store).get(key)
        }
        fn set(&self, key: &str, value: &[u8], version: u32) -> Result<(), WriteError> {
            if let Some(other) = self.interleave.take() {
                other();
            }
            (&self.store).set(key, value, version)
        }
    }

    fn totals_of(store: &ProcessStore, entry: &str) -> Totals {
        let found = (&store)
            .get(&format!("{KEY_PREFIX}{entry}"))
            .unwrap()
            .unwrap();
        Record::decode(&found.value)
            .unwrap()
            .window
            .totals(T0, BUCKET)
    }

    #[test]
    fn interleaved_publishes_lose_nothing() {
        let store = ProcessStore::default();
        let workers: Vec<SharedRecord<&ProcessStore>> = (0..4)
            .map(|_| SharedRecord::claim(&store, "reviews", 7))
            .collect();
        // Each publish races another worker's: one of every pair retries on the other's bytes.
        let racing = Racing {
            store: &store,
            interleave: Cell::new(None),
        };
        let contender = SharedRecord::claim(&racing, "reviews", 7);
        for round in 0..50 {
            let other = &workers[round % 4];
            racing.interleave.set(Some(Box::new(move || {
                assert!(matches!(
                    other.publish(T0, BUCKET, counts(3, 1)),
                    Published::Totals(_)
                ));
            })));
            assert!(matches!(
                contender.publish(T0, BUCKET, counts(2, 0)),
                Published::Totals(_)
            ));
        }
        assert_eq!(totals_of(&store, "reviews"), counts(50 * 5, 50));
    }

    /// A store that always loses the race: counts come back to be published later.
    struct AlwaysLosing<'s>(&'s ProcessStore);

    impl CasStore for AlwaysLosing<'_> {
        fn get(&self, key: &str) -> Result<Option<Versioned>, ReadError> {
            (&self.0).get(key)
        }
        fn set(&self, _: &str, _: &[u8], _: u32) -> Result<(), WriteError> {
            Err(WriteError::Mismatch)
        }
    }

    #[test]
    fn counts_not_published_come_back() {
        let store = ProcessStore::default();
        let _created = SharedRecord::claim(&store, "reviews", 7);
        let losing = SharedRecord::claim(AlwaysLosing(&store), "reviews", 7);
        assert_eq!(
            losing.publish(T0, BUCKET, counts(9, 2)),
            Published::Kept(counts(9, 2))
        );
        assert!(!losing.announce(5));
    }

    #[test]
    fn a_creation_racing_a_creation_overwrites_nothing() {
        let store = ProcessStore::default();
        // Worker B reads "absent", then worker A creates the key and publishes before B writes.
        let racing = Racing {
            store: &store,
            interleave: Cell::new(None),
        };
        let store_ref = &store;
        racing.interleave.set(Some(Box::new(move || {
            let a = SharedRecord::claim(store_ref, "reviews", 7);
            assert!(matches!(
                a.publish(T0, BUCKET, counts(10, 10)),
                Published::Totals(_)
            ));
            assert!(a.announce(u64::MAX), "A trips");
        })));
        let b = SharedRecord::claim(&racing, "reviews", 7);
        assert_eq!(b.announced(), u64::MAX, "A's trip is still there");
        assert_eq!(
            totals_of(&store, "reviews"),
            counts(10, 10),
            "and its counts"
        );
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn the_same_configuration_keeps_its_record_and_another_takes_it_over() {
        let store = ProcessStore::default();
        let first = SharedRecord::claim(&store, "reviews", 1);
        assert!(first.announce(u64::MAX));
        assert_eq!(first.claimed(), Claimed::Created);
        let again = SharedRecord::claim(&store, "reviews", 1);
        assert_eq!(again.announced(), u64::MAX, "pushed again: still tripped");
        assert_eq!(again.claimed(), Claimed::Kept);
        let changed = SharedRecord::claim(&store, "reviews", 2);
        assert_eq!(changed.claimed(), Claimed::TakenOver);
        assert_eq!(
            changed.announced(),
            0,
            "a changed configuration starts over"
        );
        // The one no longer in force writes nothing.
        assert!(first.superseded());
        assert_eq!(
            first.publish(T0, BUCKET, counts(1, 1)),
            Published::Superseded
        );
        assert!(!first.announce(u64::MAX));
        assert_eq!(changed.announced(), 0);
    }

    #[test]
    fn keys_stay_flat_over_two_hundred_pushes() {
        let store = ProcessStore::default();
        for push in 0..200u64 {
            for entry in ["reviews", "ratings"] {
                let record = SharedRecord::claim(&store, entry, push);
                assert!(matches!(
                    record.publish(T0, BUCKET, counts(1, 0)),
                    Published::Totals(_)
                ));
            }
            assert_eq!(store.len(), 2, "after push {push}");
        }
    }

    #[test]
    fn foreign_bytes_are_taken_over() {
        let store = ProcessStore::default();
        (&store)
            .set(&format!("{KEY_PREFIX}reviews"), b"junk", 0)
            .unwrap();
        let record = SharedRecord::claim(&store, "reviews", 3);
        assert!(!record.superseded());
        assert_eq!(
            Record::decode(&Record::new(3).encode()),
            Some(Record::new(3))
        );
    }
}
