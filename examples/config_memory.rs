//! What compiling a configuration allocates (BENCHMARKS.md, "Memory"):
//! `cargo run --release --example config_memory -- FILE.json...`.
//!
//! For each file: the most bytes live at once while it compiled (the high-water mark a Wasm VM's
//! linear memory keeps, since it never shrinks) and the bytes the compiled router keeps. Counted by
//! a global allocator that wraps the system's, so it is exact for this build; a Wasm VM's pointers
//! are half as wide, so there the same configuration takes less.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(pointer, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    println!(
        "| configuration | JSON bytes | entries | high-water mark while compiling | router kept |"
    );
    println!("|---|---:|---:|---:|---:|");
    for path in std::env::args().skip(1) {
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!("cannot read {path}");
            std::process::exit(1);
        };
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let router = match traffic_shift::config::parse(&bytes) {
            Ok(router) => router,
            Err(error) => {
                eprintln!("{path}: {error}");
                std::process::exit(1);
            }
        };
        let peak = PEAK.load(Ordering::Relaxed) - before;
        let kept = LIVE.load(Ordering::Relaxed) - before;
        println!(
            "| {path} | {} | {} | {peak} | {kept} |",
            bytes.len(),
            router.entries.len()
        );
    }
}
