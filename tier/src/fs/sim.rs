//! Simulated tier directories for crash and fault tests.
//!
//! It models what the tier may rely on and nothing more (see [`TierFs`]):
//! - a file's bytes are durable once synced; unsynced bytes are in the page
//!   cache only;
//! - a directory's entries (creates, renames, removals) are durable once the
//!   directory is synced; earlier ones are in a log;
//! - at a power cut ([`SimFs::power_cut`]) unsynced bytes and entries are lost
//!   ([`Cut::DropUnsynced`]), or each unsynced file keeps its old bytes, its new
//!   bytes or a sector-by-sector mix and each directory keeps a random prefix
//!   of its unsynced entry changes ([`Cut::Random`], seeded);
//! - [`SimFs::crash_after`] stops the world after a given number of
//!   mutating operations (every later operation fails), so a test can cut
//!   the power at each step of a protocol in turn;
//! - operations fail as injected [`Fault`]s say; a directory may be full
//!   (ENOSPC past a capacity, after a partial write, as real disks do),
//!   offline (every operation fails with EIO) or wiped (a blank replacement).
//!
//! All directories of one [`SimFs`] share one state, so one power cut hits
//! them all, and one seed replays a run exactly.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::TierFs;

/// Granularity of a torn write at a random power cut.
pub const SECTOR: usize = 512;

/// An operation of [`TierFs`], for fault injection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimOp {
    Create,
    Write,
    Sync,
    Rename,
    SyncDir,
    Read,
    FileLen,
    List,
    Remove,
}

impl SimOp {
    /// Operations that change the disk: the ones a crash point counts.
    fn mutates(self) -> bool {
        !matches!(self, SimOp::Read | SimOp::FileLen | SimOp::List)
    }
}

/// An injected failure: the `skip + 1`-th matching operation and the
/// `times - 1` after it fail with `error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub op: SimOp,
    /// Matches file names containing this (every name if empty; the
    /// directory itself for `SyncDir` and `List`).
    pub name_contains: String,
    pub error: io::ErrorKind,
    pub skip: u32,
    pub times: u32,
}

impl Fault {
    /// Every `op` on names containing `name_contains` fails with `error`.
    pub fn always(op: SimOp, name_contains: &str, error: io::ErrorKind) -> Self {
        Self {
            op,
            name_contains: name_contains.to_owned(),
            error,
            skip: 0,
            times: u32::MAX,
        }
    }

    /// The next `op` on names containing `name_contains` fails once.
    pub fn once(op: SimOp, name_contains: &str, error: io::ErrorKind) -> Self {
        Self {
            times: 1,
            ..Self::always(op, name_contains, error)
        }
    }
}

/// What a power cut keeps of what was not synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Nothing: the worst case for lost work.
    DropUnsynced,
    /// A seeded random part: the worst case for torn states.
    Random,
}

#[derive(Clone, Debug)]
enum DirOp {
    Link(String, u64),
    Unlink(String),
    Rename {
        from: String,
        to: String,
        inode: u64,
    },
}

#[derive(Clone, Debug, Default)]
struct Dir {
    /// The current namespace (what reads see).
    entries: BTreeMap<String, u64>,
    /// The namespace as of the last directory sync.
    durable: BTreeMap<String, u64>,
    /// Entry changes since the last directory sync, in order.
    log: Vec<DirOp>,
    offline: bool,
    capacity: Option<u64>,
    faults: Vec<Fault>,
}

#[derive(Clone, Debug, Default)]
struct Inode {
    data: Vec<u8>,
    synced: Vec<u8>,
}

#[derive(Clone, Debug)]
struct State {
    dirs: Vec<Dir>,
    inodes: HashMap<u64, Inode>,
    next_inode: u64,
    rng: SmallRng,
    mutating_ops: u64,
    crash_at: Option<u64>,
    crashed: bool,
}

/// A set of simulated tier directories sharing one disk state.
#[derive(Clone)]
pub struct SimFs {
    state: Arc<Mutex<State>>,
}

/// One simulated directory: the [`TierFs`] a tier is given.
pub struct SimDir {
    state: Arc<Mutex<State>>,
    dir: usize,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A test that panicked mid-operation leaves a usable state.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SimFs {
    pub fn new(dirs: usize, seed: u64) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                dirs: vec![Dir::default(); dirs],
                inodes: HashMap::new(),
                next_inode: 1,
                rng: SmallRng::seed_from_u64(seed),
                mutating_ops: 0,
                crash_at: None,
                crashed: false,
            })),
        }
    }

    /// A deep copy: the same files, an independent future.
    pub fn fork(&self) -> Self {
        let state = lock(&self.state).clone();
        Self {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Restarts the generator behind random power cuts.
    pub fn reseed(&self, seed: u64) {
        lock(&self.state).rng = SmallRng::seed_from_u64(seed);
    }

    /// Handles for every directory, in order.
    pub fn dirs(&self) -> Vec<SimDir> {
        // The count first: a guard in the range expression would live
        // through the whole statement, and `dir` locks again.
        let count = lock(&self.state).dirs.len();
        (0..count).map(|dir| self.dir(dir)).collect()
    }

    pub fn dir(&self, dir: usize) -> SimDir {
        let count = lock(&self.state).dirs.len();
        assert!(dir < count, "no simulated directory {dir}");
        SimDir {
            state: Arc::clone(&self.state),
            dir,
        }
    }

    /// Mutating operations so far (creates, writes, syncs, renames, directory
    /// syncs, removals), failed ones included.
    pub fn mutating_ops(&self) -> u64 {
        lock(&self.state).mutating_ops
    }

    /// The power fails just before mutating operation number `ops` (counted
    /// as [`SimFs::mutating_ops`] counts): it and everything after it fail
    /// until [`SimFs::power_cut`].
    pub fn crash_after(&self, ops: u64) {
        lock(&self.state).crash_at = Some(ops);
    }

    pub fn crashed(&self) -> bool {
        lock(&self.state).crashed
    }

    /// Cuts the power: what was not synced is lost as `cut` says, then the
    /// disk works again.
    pub fn power_cut(&self, cut: Cut) {
        let mut guard = lock(&self.state);
        let state = &mut *guard;
        for dir in &mut state.dirs {
            let keep = match cut {
                Cut::DropUnsynced => 0,
                Cut::Random => state.rng.random_range(0..=dir.log.len()),
            };
            let mut namespace = std::mem::take(&mut dir.durable);
            for op in dir.log.drain(..).take(keep) {
                apply(&mut namespace, op);
            }
            dir.entries = namespace.clone();
            dir.durable = namespace;
        }
        for inode in state.inodes.values_mut() {
            if inode.data != inode.synced {
                let kept = match cut {
                    Cut::DropUnsynced => inode.synced.clone(),
                    Cut::Random => match state.rng.random_range(0..3) {
                        0 => inode.synced.clone(),
                        1 => inode.data.clone(),
                        _ => torn(&mut state.rng, &inode.synced, &inode.data),
                    },
                };
                inode.data = kept.clone();
                inode.synced = kept;
            }
        }
        state.crash_at = None;
        state.crashed = false;
        state.collect_inodes();
    }

    /// Adds a fault to directory `dir`.
    pub fn inject(&self, dir: usize, fault: Fault) {
        lock(&self.state).dirs[dir].faults.push(fault);
    }

    pub fn clear_faults(&self, dir: usize) {
        lock(&self.state).dirs[dir].faults.clear();
    }

    /// Bytes directory `dir` holds at most (`None`: unlimited).
    pub fn set_capacity(&self, dir: usize, bytes: Option<u64>) {
        lock(&self.state).dirs[dir].capacity = bytes;
    }

    /// An offline directory fails every operation with EIO.
    pub fn set_offline(&self, dir: usize, offline: bool) {
        lock(&self.state).dirs[dir].offline = offline;
    }

    /// Replaces directory `dir` with a blank one (a new disk, an emptied
    /// export).
    pub fn wipe(&self, dir: usize) {
        let mut state = lock(&self.state);
        state.dirs[dir] = Dir::default();
        state.collect_inodes();
    }

    /// The names in directory `dir`, sorted.
    pub fn files(&self, dir: usize) -> Vec<String> {
        lock(&self.state).dirs[dir]
            .entries
            .keys()
            .cloned()
            .collect()
    }

    /// The bytes of `name` in directory `dir` as reads see them.
    pub fn contents(&self, dir: usize, name: &str) -> Option<Vec<u8>> {
        let state = lock(&self.state);
        let inode = state.dirs[dir].entries.get(name)?;
        state.inodes.get(inode).map(|i| i.data.clone())
    }

    /// Media damage: XORs `mask` into byte `offset` of `name`, synced bytes
    /// included. False if there is no such byte.
    pub fn flip(&self, dir: usize, name: &str, offset: usize, mask: u8) -> bool {
        self.damage(dir, name, |data| match data.get_mut(offset) {
            Some(byte) => {
                *byte ^= mask;
                true
            }
            None => false,
        })
    }

    /// Media damage: cuts `name` to `len` bytes, synced bytes included.
    pub fn truncate(&self, dir: usize, name: &str, len: usize) -> bool {
        self.damage(dir, name, |data| {
            data.truncate(len);
            true
        })
    }

    /// Removes `name` for good (as if synced).
    pub fn delete(&self, dir: usize, name: &str) -> bool {
        let mut state = lock(&self.state);
        let dir = &mut state.dirs[dir];
        dir.durable.remove(name);
        dir.log.retain(|op| !touches(op, name));
        dir.entries.remove(name).is_some()
    }

    fn damage(&self, dir: usize, name: &str, change: impl Fn(&mut Vec<u8>) -> bool) -> bool {
        let mut state = lock(&self.state);
        let Some(&inode) = state.dirs[dir].entries.get(name) else {
            return false;
        };
        let Some(inode) = state.inodes.get_mut(&inode) else {
            return false;
        };
        let changed = change(&mut inode.data);
        change(&mut inode.synced);
        changed
    }
}

fn touches(op: &DirOp, name: &str) -> bool {
    match op {
        DirOp::Link(n, _) | DirOp::Unlink(n) => n == name,
        DirOp::Rename { from, to, .. } => from == name || to == name,
    }
}

fn apply(namespace: &mut BTreeMap<String, u64>, op: DirOp) {
    match op {
        DirOp::Link(name, inode) => {
            namespace.insert(name, inode);
        }
        DirOp::Unlink(name) => {
            namespace.remove(&name);
        }
        DirOp::Rename { from, to, inode } => {
            namespace.remove(&from);
            namespace.insert(to, inode);
        }
    }
}

/// A torn write: a length between the old and the new, each sector from the
/// old bytes or the new ones.
fn torn(rng: &mut SmallRng, old: &[u8], new: &[u8]) -> Vec<u8> {
    let (short, long) = (old.len().min(new.len()), old.len().max(new.len()));
    let len = rng.random_range(short..=long);
    let mut out = vec![0u8; len];
    for (i, sector) in out.chunks_mut(SECTOR).enumerate() {
        let source = if rng.random_bool(0.5) { new } else { old };
        let at = i * SECTOR;
        let available = source.len().saturating_sub(at).min(sector.len());
        if available > 0 {
            sector[..available].copy_from_slice(&source[at..at + available]);
        }
    }
    out
}

impl State {
    /// Drops inodes no name refers to any more, durable or not.
    fn collect_inodes(&mut self) {
        let mut live = HashSet::new();
        for dir in &self.dirs {
            live.extend(dir.entries.values().copied());
            live.extend(dir.durable.values().copied());
            for op in &dir.log {
                match op {
                    DirOp::Link(_, inode) | DirOp::Rename { inode, .. } => {
                        live.insert(*inode);
                    }
                    DirOp::Unlink(_) => {}
                }
            }
        }
        self.inodes.retain(|inode, _| live.contains(inode));
    }

    /// The checks every operation passes first: power, crash point, the
    /// directory being there, injected faults.
    fn admit(&mut self, dir: usize, op: SimOp, name: &str) -> io::Result<()> {
        if self.crashed {
            return Err(io::Error::other("simulated power cut"));
        }
        if op.mutates() {
            if self.crash_at == Some(self.mutating_ops) {
                self.crashed = true;
                return Err(io::Error::other("simulated power cut"));
            }
            self.mutating_ops += 1;
        }
        let dir = &mut self.dirs[dir];
        if dir.offline {
            return Err(io::Error::from_raw_os_error(libc_eio()));
        }
        let hit = dir
            .faults
            .iter()
            .position(|f| f.op == op && name.contains(f.name_contains.as_str()));
        if let Some(at) = hit {
            let fault = &mut dir.faults[at];
            if fault.skip > 0 {
                fault.skip -= 1;
            } else {
                let error = fault.error;
                fault.times -= 1;
                if fault.times == 0 {
                    dir.faults.remove(at);
                }
                return Err(io::Error::new(error, format!("injected {op:?} fault")));
            }
        }
        Ok(())
    }

    fn used(&self, dir: usize) -> u64 {
        self.dirs[dir]
            .entries
            .values()
            .filter_map(|inode| self.inodes.get(inode))
            .map(|inode| inode.data.len() as u64)
            .sum()
    }

    fn inode(&self, dir: usize, name: &str) -> io::Result<u64> {
        self.dirs[dir]
            .entries
            .get(name)
            .copied()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{name}: no such file")))
    }
}

/// EIO, without a dependency on libc for one number.
const fn libc_eio() -> i32 {
    5
}

impl SimDir {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

impl TierFs for SimDir {
    fn create(&self, name: &str) -> io::Result<()> {
        let mut state = self.state();
        state.admit(self.dir, SimOp::Create, name)?;
        let inode = state.next_inode;
        state.next_inode += 1;
        state.inodes.insert(inode, Inode::default());
        let dir = &mut state.dirs[self.dir];
        dir.entries.insert(name.to_owned(), inode);
        dir.log.push(DirOp::Link(name.to_owned(), inode));
        Ok(())
    }

    fn write(&self, name: &str, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut state = self.state();
        state.admit(self.dir, SimOp::Write, name)?;
        let inode = state.inode(self.dir, name)?;
        let offset = usize::try_from(offset).map_err(io::Error::other)?;
        let old_len = state.inodes.get(&inode).map_or(0, |i| i.data.len());
        let new_len = old_len.max(offset + data.len());
        let mut len = data.len();
        let mut full = false;
        if let Some(capacity) = state.dirs[self.dir].capacity {
            let room = capacity.saturating_sub(state.used(self.dir)) as usize;
            if new_len - old_len > room {
                // Like a real disk: what fits is written, then ENOSPC.
                len = (old_len + room).saturating_sub(offset).min(len);
                full = true;
            }
        }
        let file = &mut state
            .inodes
            .get_mut(&inode)
            .ok_or_else(|| io::Error::other("dangling inode"))?
            .data;
        if file.len() < offset + len {
            file.resize(offset + len, 0);
        }
        file[offset..offset + len].copy_from_slice(&data[..len]);
        if full {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "simulated ENOSPC",
            ));
        }
        Ok(())
    }

    fn sync(&self, name: &str) -> io::Result<()> {
        let mut state = self.state();
        state.admit(self.dir, SimOp::Sync, name)?;
        let inode = state.inode(self.dir, name)?;
        if let Some(inode) = state.inodes.get_mut(&inode) {
            inode.synced = inode.data.clone();
        }
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut state = self.state();
        state.admit(self.dir, SimOp::Rename, from)?;
        let inode = state.inode(self.dir, from)?;
        let dir = &mut state.dirs[self.dir];
        dir.entries.remove(from);
        dir.entries.insert(to.to_owned(), inode);
        dir.log.push(DirOp::Rename {
            from: from.to_owned(),
            to: to.to_owned(),
            inode,
        });
        Ok(())
    }

    fn sync_dir(&self) -> io::Result<()> {
        let mut state = self.state();
        state.admit(self.dir, SimOp::SyncDir, "")?;
        let dir = &mut state.dirs[self.dir];
        dir.durable = dir.entries.clone();
        dir.log.clear();
        state.collect_inodes();
        Ok(())
    }

    fn read(&self, name: &str, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut state = self.state();
        state.admit(self.dir, SimOp::Read, name)?;
        let inode = state.inode(self.dir, name)?;
        let data = state.inodes.get(&inode).map_or(&[][..], |i| &i.data[..]);
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let n = (data.len() - start).min(buf.len());
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }

    fn file_len(&self, name: &str) -> io::Result<u64> {
        let mut state = self.state();
        state.admit(self.dir, SimOp::FileLen, name)?;
        let inode = state.inode(self.dir, name)?;
        Ok(state.inodes.get(&inode).map_or(0, |i| i.data.len() as u64))
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut state = self.state();
        state.admit(self.dir, SimOp::List, "")?;
        Ok(state.dirs[self.dir].entries.keys().cloned().collect())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let mut state = self.state();
        state.admit(self.dir, SimOp::Remove, name)?;
        let dir = &mut state.dirs[self.dir];
        if dir.entries.remove(name).is_none() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{name}: no such file"),
            ));
        }
        dir.log.push(DirOp::Unlink(name.to_owned()));
        Ok(())
    }
}
