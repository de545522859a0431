//! Configurations with up to 100,000 header names, generated from a count and a layout
//! (src/huge_config.rs): each must compile within the fuzzer's timeout, every distinct name once.
//! Its own target, since each input takes up to a second: inside `config` it would starve the rest.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    traffic_shift_fuzz::huge_config(data);
});
