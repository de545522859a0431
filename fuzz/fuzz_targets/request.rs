//! Request path: arbitrary header bytes against the fixed rich configurations (both shapes).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    traffic_shift_fuzz::request(data);
});
