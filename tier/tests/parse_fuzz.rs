//! A bounded fuzz run of the decoders of bytes read from disk: random bytes
//! and mutations of real manifests, shard headers and file names. Each
//! decoder returns an error or a value and never panics; a value re-encodes
//! to the bytes it came from.
//!
//! `SPATE_TIER_FUZZ_CASES=N` sets the number of cases per decoder (default
//! 20,000).

mod common;

use common::{bytes, config, sim_tier};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use spate_tier::fuzz;

fn cases() -> u64 {
    std::env::var("SPATE_TIER_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000)
}

/// Real files of a small tier: manifests (one with many stripes, one a
/// tombstone) and shard files.
fn corpus() -> (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<String>) {
    let (sim, mut tier) = sim_tier(6, config(4, 2, 64), 1);
    tier.append("scope/stream/0", 0, &bytes(3000, 1))
        .expect("append");
    tier.append("s#transaction.1", 7, &bytes(100, 2))
        .expect("append");
    tier.append("gone", 0, &bytes(100, 3)).expect("append");
    tier.delete("gone").expect("delete");
    tier.truncate("scope/stream/0", 500).expect("truncate");
    let (mut manifests, mut shards, mut names) = (Vec::new(), Vec::new(), Vec::new());
    for dir in 0..6 {
        for name in sim.files(dir) {
            let content = sim.contents(dir, &name).expect("exists");
            if name.ends_with(".manifest") {
                manifests.push(content);
            } else {
                shards.push(content);
            }
            names.push(name);
        }
    }
    (manifests, shards, names)
}

fn mutate(rng: &mut SmallRng, bytes: &mut Vec<u8>) {
    for _ in 0..rng.random_range(1..6) {
        match rng.random_range(0..6) {
            0 if !bytes.is_empty() => {
                let i = rng.random_range(0..bytes.len());
                bytes[i] ^= 1 << rng.random_range(0..8);
            }
            1 if !bytes.is_empty() => {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = rng.random();
            }
            2 => bytes.truncate(rng.random_range(0..=bytes.len())),
            3 => {
                let i = rng.random_range(0..=bytes.len());
                bytes.insert(i, rng.random());
            }
            4 if bytes.len() >= 4 => {
                // Plausible lengths and counts: the fields parsers trust most.
                let i = rng.random_range(0..bytes.len() - 3);
                let v: u32 = match rng.random_range(0..3) {
                    0 => rng.random_range(0..64),
                    1 => u32::MAX - rng.random_range(0..4),
                    _ => rng.random(),
                };
                bytes[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            _ => {
                let i = rng.random_range(0..=bytes.len());
                bytes.splice(
                    i..i,
                    (0..rng.random_range(0..16)).map(|_| rng.random::<u8>()),
                );
            }
        }
    }
}

/// Makes a mutated manifest's length and checksum right again, so the
/// mutation reaches the field checks behind them.
fn fix_manifest(bytes: &mut [u8]) {
    let len = bytes.len();
    if len >= 16 {
        bytes[8..12].copy_from_slice(&(len as u32).to_le_bytes());
        let crc = crc32c::crc32c(&bytes[..len - 4]);
        bytes[len - 4..].copy_from_slice(&crc.to_le_bytes());
    }
}

/// The same for a shard header's checksum.
fn fix_shard(bytes: &mut [u8]) {
    if bytes.len() >= 64 {
        let name_len = usize::from(u16::from_le_bytes([bytes[10], bytes[11]]));
        if let Some(name) = bytes.get(64..64 + name_len) {
            let crc = crc32c::crc32c_append(crc32c::crc32c(&bytes[..60]), name);
            bytes[60..64].copy_from_slice(&crc.to_le_bytes());
        }
    }
}

fn run(seed: u64, corpus: &[Vec<u8>], decode: fn(&[u8]), fix: fn(&mut [u8])) {
    let mut rng = SmallRng::seed_from_u64(seed);
    for _ in 0..cases() {
        let mut input = if rng.random_bool(0.2) || corpus.is_empty() {
            let len = rng.random_range(0..300);
            (0..len).map(|_| rng.random()).collect()
        } else {
            corpus[rng.random_range(0..corpus.len())].clone()
        };
        mutate(&mut rng, &mut input);
        if rng.random_bool(0.7) {
            fix(&mut input);
        }
        decode(&input);
    }
}

#[test]
fn manifest_decoder_never_panics() {
    let (manifests, _, _) = corpus();
    for m in &manifests {
        fuzz::manifest(m);
    }
    run(1, &manifests, fuzz::manifest, fix_manifest);
}

#[test]
fn shard_header_decoder_never_panics() {
    let (_, shards, _) = corpus();
    for s in &shards {
        fuzz::shard_header(s);
    }
    run(2, &shards, fuzz::shard_header, fix_shard);
}

#[test]
fn file_name_classifier_never_panics() {
    let (_, _, names) = corpus();
    let names: Vec<Vec<u8>> = names.into_iter().map(String::into_bytes).collect();
    run(3, &names, fuzz::file_name, |_| {});
}
