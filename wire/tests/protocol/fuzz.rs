//! Bounded, deterministic fuzzing of every decoder: ~20k inputs, no panics.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use spate_wire::fuzz::{fuzz_decode_frames, refresh_crc, seed_corpus};

const CASES: usize = 20_000;
const SEED: u64 = 0x5eed_5a7e;

/// Applies one to four random mutations to a copy of `seed`.
fn mutate(rng: &mut SmallRng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = bytes.len().max(1);
        match rng.random_range(0..7) {
            0 => {
                let at = rng.random_range(0..len);
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= 1 << rng.random_range(0..8);
                }
            }
            1 => {
                let at = rng.random_range(0..len);
                if let Some(b) = bytes.get_mut(at) {
                    *b = [0, 1, 0x7f, 0x80, 0xff][rng.random_range(0..5)];
                }
            }
            2 => bytes.truncate(rng.random_range(0..len)),
            3 => {
                let at = rng.random_range(0..=bytes.len());
                bytes.insert(at, rng.random());
            }
            4 => bytes.extend_from_slice(other),
            5 => {
                let at = rng.random_range(0..=bytes.len());
                bytes.splice(at..at, other.iter().copied().take(rng.random_range(0..64)));
            }
            _ => {
                // Overwrite a 4-byte little-endian word: lengths, offsets, tags.
                let at = rng.random_range(0..len);
                let word: u32 = rng.random();
                for (i, b) in word.to_le_bytes().into_iter().enumerate() {
                    if let Some(slot) = bytes.get_mut(at + i) {
                        *slot = b;
                    }
                }
            }
        }
    }
    // Half the time make the checksum right, so the body validators see it.
    if rng.random_bool(0.5) {
        refresh_crc(&mut bytes);
    }
    bytes
}

fn random_bytes(rng: &mut SmallRng) -> Vec<u8> {
    let len = rng.random_range(0..256);
    (0..len).map(|_| rng.random()).collect()
}

#[test]
fn decoders_never_panic_on_mutated_or_random_input() {
    let corpus = seed_corpus();
    assert!(!corpus.is_empty());
    let mut rng = SmallRng::seed_from_u64(SEED);
    for case in 0..CASES {
        let input = if case % 10 == 0 {
            random_bytes(&mut rng)
        } else {
            let seed = &corpus[rng.random_range(0..corpus.len())];
            let other = &corpus[rng.random_range(0..corpus.len())];
            mutate(&mut rng, seed, other)
        };
        fuzz_decode_frames(&input);
    }
}

#[test]
fn the_seed_corpus_itself_decodes() {
    for frame in seed_corpus() {
        fuzz_decode_frames(&frame);
    }
    fuzz_decode_frames(&seed_corpus().concat());
}

/// `SPATE_FUZZ_SEED_CORPUS=1` writes valid frames into the libFuzzer corpus
/// (`fuzz/corpus/wire_frames`), as starting points for `ci/fuzz`.
#[test]
fn seed_the_fuzz_corpus_on_request() {
    if std::env::var_os("SPATE_FUZZ_SEED_CORPUS").is_none() {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/wire_frames");
    for (i, frame) in spate_wire::fuzz::seed_corpus().iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{i}")), frame).expect("write seed");
    }
}
