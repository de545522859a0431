//! Configuration parser: arbitrary bytes, and arbitrary edits of a rich valid configuration; an input
//! starting with `#` is instead a count and a layout of a generated configuration with up to 100,000
//! header names, which must compile within the fuzzer's timeout.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((b'#', rest)) => traffic_shift_fuzz::huge_config(rest),
        _ => {
            traffic_shift_fuzz::config(data);
        }
    }
});
