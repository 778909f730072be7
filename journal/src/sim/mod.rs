//! A simulated disk for deterministic crash and fault tests.
//!
//! It models what the journal may rely on and nothing more:
//! - a write reaches the media at any moment between submission and its
//!   completion, in 512-byte sectors, in any order;
//! - only a completed durable write (or a completed preparation, which syncs
//!   the file) is guaranteed to survive a power cut;
//! - at a power cut ([`SimDisk::crash`]) every sector written since its last
//!   sync independently keeps its new bytes, reverts to its old ones, or (with
//!   garbling enabled) holds garbage; kept sectors stay unsynced, so a later
//!   cut can still lose them;
//! - operations complete in a random order, and may fail as the
//!   [`Faults`] say.
//!
//! Everything is driven by one seeded generator: a seed replays exactly.

mod file;

use std::collections::BTreeMap;
use std::io;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::aligned::AlignedBuf;
use crate::storage::{Completion, Op, Slot, SlotInfo, Storage};
use file::SimFile;

pub use file::SECTOR;

/// Fault rates, each out of 1,000 operations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Durable writes that fail with EIO (their bytes may still partly land).
    pub write_error_per_mille: u32,
    /// Preparations that fail with ENOSPC.
    pub prepare_error_per_mille: u32,
    /// Unsynced sectors that hold garbage after a power cut.
    pub garble_per_mille: u32,
}

/// What the simulated disk did, for test reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    pub writes: u64,
    pub write_errors: u64,
    pub prepare_errors: u64,
    pub crashes: u64,
    pub sectors_lost: u64,
    pub sectors_garbled: u64,
}

/// A durable write in flight on the simulated disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingWrite {
    pub slot: Slot,
    pub offset: u64,
    pub len: usize,
}

struct Pending {
    token: u64,
    op: Op,
}

pub struct SimDisk {
    rng: SmallRng,
    faults: Faults,
    files: BTreeMap<Slot, SimFile>,
    pending: Vec<Pending>,
    stats: SimStats,
}

impl SimDisk {
    pub fn new(seed: u64, faults: Faults) -> Self {
        Self {
            rng: SmallRng::seed_from_u64(seed),
            faults,
            files: BTreeMap::new(),
            pending: Vec::new(),
            stats: SimStats::default(),
        }
    }

    pub fn stats(&self) -> SimStats {
        self.stats
    }

    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    /// Cuts the power: operations in flight are lost (their bytes may partly
    /// have landed) and unsynced sectors are kept, lost or garbled at random.
    pub fn crash(&mut self) {
        self.pending.clear();
        self.stats.crashes += 1;
        let garble = self.faults.garble_per_mille;
        for file in self.files.values_mut() {
            let (lost, garbled) = file.power_cut(&mut self.rng, garble);
            self.stats.sectors_lost += lost;
            self.stats.sectors_garbled += garbled;
        }
    }

    /// Puts a file with the given (durable) contents on the disk, for tests
    /// and fuzzing that start from crafted bytes.
    pub fn insert_file(&mut self, slot: Slot, contents: Vec<u8>) {
        self.files.insert(slot, SimFile::from_contents(contents));
    }

    /// Flips one bit of durable data, as media decay would.
    pub fn flip_bit(&mut self, slot: Slot, offset: u64, bit: u8) {
        let file = self
            .files
            .get_mut(&slot)
            .expect("flip_bit on a missing file");
        file.flip_bit(offset as usize, bit);
    }

    /// The durable writes submitted and not completed, for tests that check
    /// what is in flight together.
    pub fn pending_writes(&self) -> Vec<PendingWrite> {
        self.pending
            .iter()
            .filter_map(|p| match &p.op {
                Op::DurableWrite { slot, offset, buf } => Some(PendingWrite {
                    slot: *slot,
                    offset: *offset,
                    len: buf.len(),
                }),
                Op::Prepare { .. } => None,
            })
            .collect()
    }

    /// The current contents of a file, for tests that inspect the layout.
    pub fn contents(&self, slot: Slot) -> Option<&[u8]> {
        self.files.get(&slot).map(SimFile::current)
    }

    fn roll(&mut self, per_mille: u32) -> bool {
        per_mille > 0 && self.rng.random_range(0..1000) < per_mille
    }

    fn finish(&mut self, pending: Pending) -> Completion {
        match pending.op {
            Op::DurableWrite { slot, offset, buf } => {
                self.stats.writes += 1;
                let result = if self.roll(self.faults.write_error_per_mille) {
                    self.stats.write_errors += 1;
                    Err(io::Error::from_raw_os_error(libc::EIO))
                } else {
                    let file = self.files.get_mut(&slot).expect("write to a prepared file");
                    file.sync_range(offset as usize, buf.len());
                    Ok(())
                };
                Completion {
                    token: pending.token,
                    result,
                    buf: Some(buf),
                }
            }
            Op::Prepare { slot, len } => {
                let result = if self.roll(self.faults.prepare_error_per_mille) {
                    self.stats.prepare_errors += 1;
                    Err(io::Error::from_raw_os_error(libc::ENOSPC))
                } else {
                    let file = self
                        .files
                        .entry(slot)
                        .or_insert_with(|| SimFile::new(len as usize));
                    file.prepare(len as usize);
                    Ok(())
                };
                Completion {
                    token: pending.token,
                    result,
                    buf: None,
                }
            }
        }
    }
}

impl Storage for SimDisk {
    fn slots(&mut self) -> io::Result<Vec<SlotInfo>> {
        Ok(self
            .files
            .iter()
            .map(|(&slot, f)| SlotInfo {
                slot,
                len: f.len() as u64,
            })
            .collect())
    }

    fn read_at(&mut self, slot: Slot, offset: u64, buf: &mut AlignedBuf) -> io::Result<()> {
        let file = self
            .files
            .get(&slot)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        let data = file.current();
        let start = (offset as usize).min(data.len());
        let n = buf.capacity().min(data.len() - start);
        buf.spare_all()[..n].copy_from_slice(&data[start..start + n]);
        buf.set_len(n);
        Ok(())
    }

    fn submit(&mut self, token: u64, op: Op) {
        if let Op::DurableWrite { slot, offset, buf } = &op {
            // The bytes may reach the media any time from now on.
            let file = self.files.get_mut(slot).expect("write to a prepared file");
            file.write(*offset as usize, buf.as_slice());
        }
        self.pending.push(Pending { token, op });
    }

    fn reap(&mut self, wait: bool, out: &mut Vec<Completion>) -> io::Result<()> {
        let mut index = 0;
        while index < self.pending.len() {
            if self.rng.random_bool(0.5) {
                let pending = self.pending.swap_remove(index);
                let completion = self.finish(pending);
                out.push(completion);
            } else {
                index += 1;
            }
        }
        if wait && out.is_empty() && !self.pending.is_empty() {
            let index = self.rng.random_range(0..self.pending.len());
            let pending = self.pending.swap_remove(index);
            let completion = self.finish(pending);
            out.push(completion);
        }
        Ok(())
    }
}
