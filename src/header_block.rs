//! A request's headers handed over in one piece, and looked up in place.
//!
//! proxy-wasm's `proxy_get_header_map_pairs` copies the whole header map into module memory in one
//! call, serialized as: the pair count (u32, little endian), then each pair's name and value lengths
//! (u32 each), then each name and value followed by a NUL byte. One such call costs about what one
//! header value read costs, since the value reads' price is the call back into the module's allocator
//! (BENCHMARKS.md), so a request that needs two or more values pays less for the block.

/// A serialized header map; a malformed one reads as a map without headers (never a trap).
pub struct HeaderBlock<B: AsRef<[u8]>> {
    bytes: B,
}

impl<B: AsRef<[u8]>> HeaderBlock<B> {
    pub fn new(bytes: B) -> Self {
        HeaderBlock { bytes }
    }

    /// The first value of the header called `name` (Envoy's names are lower case), as Envoy's
    /// single-value read returns it.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.pairs()
            .find(|(known, _)| *known == name.as_bytes())
            .map(|(_, value)| value)
    }

    /// Whether every pair the block declares can be read: a malformed block cannot say a header is
    /// absent (the shells then strip the client's cluster header without asking it).
    pub fn is_well_formed(&self) -> bool {
        let declared = read_u32(self.bytes.as_ref(), 0);
        declared.is_some_and(|count| self.pairs().count() == count)
    }

    /// Every value of the header called `name`, in the host's order (a repeated header has several).
    pub fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s [u8]> + 's {
        self.pairs()
            .filter(move |(known, _)| *known == name.as_bytes())
            .map(|(_, value)| value)
    }

    /// Every (name, value) pair in the host's order; stops at the first inconsistency.
    pub fn pairs(&self) -> Pairs<'_> {
        let bytes = self.bytes.as_ref();
        let count = read_u32(bytes, 0).unwrap_or(0);
        // The sizes table (8 bytes a pair) precedes the data; a count it cannot hold is malformed.
        let data = count
            .checked_mul(8)
            .and_then(|table| table.checked_add(4))
            .filter(|start| *start <= bytes.len());
        Pairs {
            bytes,
            remaining: if data.is_some() { count } else { 0 },
            sizes: 4,
            data: data.unwrap_or(bytes.len()),
        }
    }
}

pub struct Pairs<'b> {
    bytes: &'b [u8],
    remaining: usize,
    /// Offset of the next pair's two lengths.
    sizes: usize,
    /// Offset of the next pair's name.
    data: usize,
}

impl<'b> Iterator for Pairs<'b> {
    type Item = (&'b [u8], &'b [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let pair = self.take();
        self.remaining = if pair.is_some() {
            self.remaining - 1
        } else {
            0
        };
        pair
    }
}

impl<'b> Pairs<'b> {
    fn take(&mut self) -> Option<(&'b [u8], &'b [u8])> {
        let name_len = read_u32(self.bytes, self.sizes)?;
        let value_len = read_u32(self.bytes, self.sizes + 4)?;
        let name = terminated(self.bytes, self.data, name_len)?;
        let value_start = self.data + name_len + 1;
        let value = terminated(self.bytes, value_start, value_len)?;
        self.sizes += 8;
        self.data = value_start + value_len + 1;
        Some((name, value))
    }
}

/// The `len` bytes at `start`, if the NUL that ends them is there too.
fn terminated(bytes: &[u8], start: usize, len: usize) -> Option<&[u8]> {
    let end = start.checked_add(len)?;
    (*bytes.get(end)? == 0).then_some(())?;
    bytes.get(start..end)
}

fn read_u32(bytes: &[u8], at: usize) -> Option<usize> {
    let word = bytes.get(at..at.checked_add(4)?)?;
    let word: [u8; 4] = word.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(word)).ok()
}

/// The serialization `proxy_get_header_map_pairs` hands over (tests and fuzzing build blocks with it).
pub fn serialize(pairs: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (name, value) in pairs {
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    }
    for (name, value) in pairs {
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value);
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn a_truncated_block_is_not_well_formed() {
        let whole = serialize(&[("a", b"1"), ("x-traffic-shift-cluster", b"v2")]);
        assert!(HeaderBlock::new(whole.as_slice()).is_well_formed());
        let cut = &whole[..whole.len() - 4];
        assert!(!HeaderBlock::new(cut).is_well_formed());
        assert!(!HeaderBlock::new(&b""[..]).is_well_formed());
        assert!(HeaderBlock::new(serialize(&[]).as_slice()).is_well_formed());
    }

    #[test]
    fn finds_the_first_value_of_a_name_in_place() {
        let bytes = serialize(&[
            (":path", b"/reviews/0"),
            (":authority", b"reviews:9080"),
            ("x-dup", b"first"),
            ("x-dup", b"second"),
            ("x-empty", b""),
            ("x-binary", b"\xff\x00\xfe"),
        ]);
        let block = HeaderBlock::new(&bytes[..]);
        assert_eq!(block.get(":path"), Some(&b"/reviews/0"[..]));
        assert_eq!(block.get(":authority"), Some(&b"reviews:9080"[..]));
        assert_eq!(block.get("x-dup"), Some(&b"first"[..]));
        assert_eq!(
            block.values("x-dup").collect::<Vec<_>>(),
            [&b"first"[..], &b"second"[..]]
        );
        assert_eq!(block.values("x-absent").count(), 0);
        assert_eq!(block.get("x-empty"), Some(&b""[..]));
        assert_eq!(block.get("x-binary"), Some(&b"\xff\x00\xfe"[..]));
        assert_eq!(block.get("x-absent"), None);
        assert_eq!(block.pairs().count(), 6);
    }

    #[test]
    fn an_empty_or_malformed_block_has_no_headers_beyond_its_damage() {
        assert_eq!(HeaderBlock::new(&[][..]).pairs().count(), 0);
        assert_eq!(HeaderBlock::new(serialize(&[])).pairs().count(), 0);
        // A count larger than the block can hold.
        assert_eq!(
            HeaderBlock::new(&[255, 255, 255, 255][..]).pairs().count(),
            0
        );
        // Every truncation reads as the pairs that are whole, never more, never a panic.
        let bytes = serialize(&[("a", b"1"), ("bb", b"22")]);
        for cut in 0..bytes.len() {
            let block = HeaderBlock::new(&bytes[..cut]);
            assert!(block.pairs().count() <= 1, "cut at {cut}");
            assert_eq!(block.get("bb"), None, "cut at {cut}");
        }
        assert_eq!(HeaderBlock::new(&bytes[..]).get("bb"), Some(&b"22"[..]));
    }

    #[test]
    fn lengths_that_point_past_the_end_stop_the_walk() {
        let mut bytes = serialize(&[("a", b"1"), ("b", b"2")]);
        bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        let block = HeaderBlock::new(&bytes[..]);
        assert_eq!(block.pairs().count(), 0);
        assert_eq!(block.get("b"), None);
    }
}
