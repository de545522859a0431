//! The dynamic-module shell's exported functions against a fake Envoy: first byte even = a
//! configuration document follows, odd = a request (as the request target reads it).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((selector, rest)) if selector % 2 == 0 => {
            traffic_shift_fuzz::shell_config(rest);
        }
        Some((_, rest)) => {
            traffic_shift_fuzz::shell_request(rest);
        }
        None => {}
    }
});
