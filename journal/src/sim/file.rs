//! One simulated file: what is durable, what reads see, which sectors differ.

use rand::Rng;
use rand::rngs::SmallRng;

/// The unit in which the simulated media persists or loses data.
pub const SECTOR: usize = 512;

pub(super) struct SimFile {
    durable: Vec<u8>,
    current: Vec<u8>,
    /// Sectors written since they were last synced.
    dirty: Vec<bool>,
}

impl SimFile {
    pub fn new(len: usize) -> Self {
        Self {
            durable: vec![0; len],
            current: vec![0; len],
            dirty: vec![false; len.div_ceil(SECTOR)],
        }
    }

    pub fn from_contents(contents: Vec<u8>) -> Self {
        let sectors = contents.len().div_ceil(SECTOR);
        Self {
            durable: contents.clone(),
            current: contents,
            dirty: vec![false; sectors],
        }
    }

    pub fn len(&self) -> usize {
        self.current.len()
    }

    pub fn current(&self) -> &[u8] {
        &self.current
    }

    pub fn write(&mut self, offset: usize, bytes: &[u8]) {
        let end = offset + bytes.len();
        assert!(
            end <= self.current.len(),
            "simulated write past the end of the file"
        );
        self.current[offset..end].copy_from_slice(bytes);
        for sector in offset / SECTOR..end.div_ceil(SECTOR) {
            self.dirty[sector] = true;
        }
    }

    /// Makes `[offset, offset + len)` durable.
    pub fn sync_range(&mut self, offset: usize, len: usize) {
        for sector in offset / SECTOR..(offset + len).div_ceil(SECTOR) {
            self.sync_sector(sector);
        }
    }

    fn sync_sector(&mut self, sector: usize) {
        let range = self.sector_range(sector);
        self.durable[range.clone()].copy_from_slice(&self.current[range]);
        self.dirty[sector] = false;
    }

    fn sector_range(&self, sector: usize) -> std::ops::Range<usize> {
        sector * SECTOR..((sector + 1) * SECTOR).min(self.current.len())
    }

    /// Sizes the file to `len` (zero-filled, durable) and syncs it.
    pub fn prepare(&mut self, len: usize) {
        if self.current.len() != len {
            *self = Self::new(len);
        }
        for sector in 0..self.dirty.len() {
            if self.dirty[sector] {
                self.sync_sector(sector);
            }
        }
    }

    /// Decides the fate of every unsynced sector. Returns (lost, garbled).
    pub fn power_cut(&mut self, rng: &mut SmallRng, garble_per_mille: u32) -> (u64, u64) {
        let (mut lost, mut garbled) = (0, 0);
        for sector in 0..self.dirty.len() {
            if !self.dirty[sector] {
                continue;
            }
            let range = self.sector_range(sector);
            if garble_per_mille > 0 && rng.random_range(0..1000) < garble_per_mille {
                let at = rng.random_range(range.clone());
                self.current[at] ^= 1 << rng.random_range(0..8);
                garbled += 1;
            } else if rng.random_bool(0.5) {
                self.current[range.clone()].copy_from_slice(&self.durable[range]);
                self.dirty[sector] = false;
                lost += 1;
            }
        }
        (lost, garbled)
    }

    /// Flips a bit in durable data (media decay).
    pub fn flip_bit(&mut self, offset: usize, bit: u8) {
        self.current[offset] ^= 1 << (bit % 8);
        self.durable[offset] ^= 1 << (bit % 8);
    }
}
