//! Configuration parser: arbitrary bytes, and arbitrary edits of a rich valid configuration.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    traffic_shift_fuzz::config(data);
});
