//! Arbitrary bytes cut into journal files, through the whole recovery.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spate_journal::recovery::fuzz::recover_files(data);
});
