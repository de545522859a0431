//! Request path: arbitrary header bytes against a fixed rich configuration.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    traffic_shift_fuzz::request(data);
});
