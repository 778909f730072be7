//! One journal file of arbitrary bytes through the recovery scanner.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spate_journal::recovery::fuzz::scan_image(data);
});
