//! Helpers shared by the tier's integration tests.
#![allow(dead_code)]

use spate_tier::fs::sim::{SimDir, SimFs};
use spate_tier::{Tier, TierConfig};

/// Small cells keep the tests fast; the format is the same at any size.
pub fn config(k: u8, m: u8, cell_size: u32) -> TierConfig {
    TierConfig {
        k,
        m,
        cell_size,
        max_read_bytes: 1 << 20,
        // Deterministic operation order: what crash points enumerate.
        parallel_writes: false,
    }
}

pub fn sim_tier(dirs: usize, config: TierConfig, seed: u64) -> (SimFs, Tier<SimDir>) {
    let sim = SimFs::new(dirs, seed);
    let tier = Tier::open(sim.dirs(), config).expect("valid config");
    (sim, tier)
}

/// A fresh tier over the same simulated disk: what a restart sees.
pub fn reopen(sim: &SimFs, config: TierConfig) -> Tier<SimDir> {
    Tier::open(sim.dirs(), config).expect("valid config")
}

/// Deterministic bytes that differ from offset to offset and seed to seed.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Shard files of directory `dir`.
pub fn shards(sim: &SimFs, dir: usize) -> Vec<String> {
    sim.files(dir)
        .into_iter()
        .filter(|f| f.ends_with(".shard"))
        .collect()
}

/// Every file of every directory with its bytes.
pub fn image(sim: &SimFs, dirs: usize) -> Vec<Vec<(String, Vec<u8>)>> {
    (0..dirs)
        .map(|dir| {
            sim.files(dir)
                .into_iter()
                .map(|f| {
                    let bytes = sim.contents(dir, &f).expect("listed");
                    (f, bytes)
                })
                .collect()
        })
        .collect()
}
