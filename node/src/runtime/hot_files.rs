//! Hot chunk files: where the flusher puts segment data it takes out of
//! the journal (`DATA_DIR/chunks/core-N/ID.chunk`, one core's files per
//! directory, each file written by one segment's flushes in order).
//!
//! What this assumes about the disk: a write with `O_DIRECT | O_DSYNC`
//! that completed is durable (as the journal's writes); a new file's name
//! is durable once its directory is synced, which happens before anything
//! names the file. Every flush starts on a fresh block, so a write never
//! touches a block holding bytes a checkpoint already names: a torn write
//! can only damage the flush it belongs to, which nothing names yet.
//!
//! A hot chunk is read whole, because its CRC32C covers all of it.
//!
//! With a tier, a closed file is also stored there (object `core-N/ID`,
//! same bytes at the same offsets); once stored, the local copy may be
//! dropped, and reads of its extents go to the tier.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::io;
use std::path::PathBuf;
use std::rc::Rc;

use glommio::io::{DmaFile, OpenOptions as DmaOpenOptions};
use thiserror::Error;

use super::storage::read_exact_aligned;
use super::tier_service::{TierHandle, object_name};
use crate::container::HotData;

/// Every flush starts at a multiple of this (O_DIRECT alignment).
pub const HOT_BLOCK: u64 = 4096;
/// Open files kept for reads; past this the cache starts again empty.
const MAX_OPEN_FILES: usize = 256;

#[derive(Debug, Error)]
pub enum HotReadError {
    #[error("hot chunk file {file}: {source}")]
    Io { file: u64, source: io::Error },
    #[error("hot chunk file {file}: the chunk at {offset} fails its checksum")]
    Checksum { file: u64, offset: u64 },
    #[error("hot chunk file {file}: not on the data disk, and the tier read failed: {reason}")]
    Tier { file: u64, reason: String },
    #[error("hot chunk file {file} is neither on the data disk nor in the tier")]
    Missing { file: u64 },
}

/// What a core's hot chunk files take, for metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct HotUsage {
    pub local_files: u64,
    pub local_bytes: u64,
    /// Bytes of this core's files the tier holds.
    pub tier_bytes: u64,
    /// Local bytes not in the tier yet (only with a tier).
    pub tier_backlog_bytes: u64,
}

/// One core's hot chunk files.
pub struct HotFiles {
    dir: PathBuf,
    next_id: Cell<u64>,
    /// The files on disk (found at start or created since).
    on_disk: RefCell<BTreeSet<u64>>,
    open: RefCell<HashMap<u64, Rc<DmaFile>>>,
    core: usize,
    tier: Option<TierHandle>,
    /// Bytes of each file the tier holds (from its start).
    stored: RefCell<HashMap<u64, u64>>,
}

impl HotFiles {
    /// The files of `dir` (created if missing). Blocking: call it before
    /// the core serves.
    pub fn open_dir(dir: PathBuf, core: usize, tier: Option<TierHandle>) -> io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let mut on_disk = BTreeSet::new();
        for entry in std::fs::read_dir(&dir)? {
            let name = entry?.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".chunk"))
                .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            else {
                continue;
            };
            on_disk.insert(id);
        }
        let next = on_disk.last().map_or(0, |last| last + 1);
        Ok(Self {
            dir,
            next_id: Cell::new(next),
            on_disk: RefCell::new(on_disk),
            open: RefCell::new(HashMap::new()),
            core,
            tier,
            stored: RefCell::new(HashMap::new()),
        })
    }

    pub fn tier(&self) -> Option<&TierHandle> {
        self.tier.as_ref()
    }

    /// Makes sure new ids come after `id` (a file a chunk names).
    pub fn ids_after(&self, id: u64) {
        if id >= self.next_id.get() {
            self.next_id.set(id + 1);
        }
    }

    /// Learns what the tier already holds of this core's files (after a
    /// start), and makes sure new ids never reuse a stored one.
    pub async fn load_stored(&self) -> Result<(), String> {
        let Some(tier) = &self.tier else {
            return Ok(());
        };
        let listed = tier.list(self.core).await?;
        let mut stored = self.stored.borrow_mut();
        for (file, end) in listed {
            stored.insert(file, end);
            if file >= self.next_id.get() {
                self.next_id.set(file + 1);
            }
        }
        Ok(())
    }

    /// What the files take now (one `stat` per local file).
    pub fn usage(&self) -> HotUsage {
        let stored = self.stored.borrow();
        let mut usage = HotUsage {
            tier_bytes: stored.values().sum(),
            ..HotUsage::default()
        };
        for &id in self.on_disk.borrow().iter() {
            let len = self.local_len(id).unwrap_or(0);
            usage.local_files += 1;
            usage.local_bytes += len;
            if self.tier.is_some() {
                let held = stored.get(&id).copied().unwrap_or(0);
                usage.tier_backlog_bytes += len.saturating_sub(held);
            }
        }
        usage
    }

    /// Every file known: on the data disk, in the tier, or both.
    pub fn known(&self) -> BTreeSet<u64> {
        let mut all = self.on_disk.borrow().clone();
        all.extend(self.stored.borrow().keys().copied());
        all
    }

    pub fn is_local(&self, id: u64) -> bool {
        self.on_disk.borrow().contains(&id)
    }

    /// Bytes of file `id` the tier holds.
    pub fn stored(&self, id: u64) -> u64 {
        self.stored.borrow().get(&id).copied().unwrap_or(0)
    }

    pub fn set_stored(&self, id: u64, end: u64) {
        self.stored.borrow_mut().insert(id, end);
    }

    /// The length of local file `id`.
    pub fn local_len(&self, id: u64) -> io::Result<u64> {
        std::fs::metadata(self.path(id)).map(|m| m.len())
    }

    /// `len` bytes of local file `id` at `offset` (block-aligned), as they
    /// are on disk (for storing in the tier: the extents carry their CRCs).
    pub async fn read_raw(&self, id: u64, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let file = self.file(id).await?;
        read_exact_aligned(&file, offset, len).await
    }

    /// Deletes the local copy of a file the tier holds whole.
    pub async fn drop_local(&self, id: u64) -> io::Result<()> {
        self.open.borrow_mut().remove(&id);
        let path = self.path(id);
        glommio::executor()
            .spawn_blocking(move || std::fs::remove_file(&path))
            .await?;
        self.on_disk.borrow_mut().remove(&id);
        Ok(())
    }

    fn path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:016x}.chunk"))
    }

    /// The files on disk now.
    pub fn on_disk(&self) -> Vec<u64> {
        self.on_disk.borrow().iter().copied().collect()
    }

    /// Creates a new, empty file and makes its name durable.
    pub async fn create(&self) -> io::Result<u64> {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let file = DmaOpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_DSYNC)
            .dma_open(self.path(id))
            .await
            .map_err(io::Error::from)?;
        self.on_disk.borrow_mut().insert(id);
        self.remember(id, Rc::new(file));
        let dir = self.dir.clone();
        glommio::executor()
            .spawn_blocking(move || std::fs::File::open(&dir).and_then(|d| d.sync_all()))
            .await?;
        Ok(id)
    }

    /// Writes `data` at `offset` (a multiple of [`HOT_BLOCK`]), padded with
    /// zeros to a whole block; durable when it returns. Returns the bytes
    /// the file took.
    pub async fn write(&self, id: u64, offset: u64, data: &[u8]) -> io::Result<u64> {
        assert_eq!(offset % HOT_BLOCK, 0, "flushes start on a fresh block");
        let file = self.file(id).await?;
        let padded = data.len().div_ceil(HOT_BLOCK as usize) * HOT_BLOCK as usize;
        let mut buf = file.alloc_dma_buffer(padded);
        let bytes = buf.as_bytes_mut();
        bytes[..data.len()].copy_from_slice(data);
        bytes[data.len()..].fill(0);
        let written = file.write_at(buf, offset).await.map_err(io::Error::from)?;
        if written != padded {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short write: {written} of {padded} bytes"),
            ));
        }
        Ok(padded as u64)
    }

    /// The bytes of hot chunk `at`, checked against its CRC32C: from the
    /// data disk, or from the tier once the local copy is gone.
    pub async fn read(&self, at: HotData) -> Result<Vec<u8>, HotReadError> {
        if self.is_local(at.file) {
            match self.read_local(at).await {
                // Dropped meanwhile (its data is in the tier): read it there.
                Err(HotReadError::Io { source, .. })
                    if source.kind() == io::ErrorKind::NotFound && self.tier.is_some() => {}
                other => return other,
            }
        }
        // Not local: the tier has it, whether or not this core has listed
        // the tier yet (a chunk names only files that were written whole).
        let Some(tier) = &self.tier else {
            return Err(HotReadError::Missing { file: at.file });
        };
        let data = tier
            .read(
                object_name(self.core, at.file),
                at.file_offset,
                at.len as usize,
            )
            .await
            .map_err(|reason| HotReadError::Tier {
                file: at.file,
                reason,
            })?;
        if crc32c::crc32c(&data) != at.crc {
            return Err(HotReadError::Checksum {
                file: at.file,
                offset: at.file_offset,
            });
        }
        Ok(data)
    }

    async fn read_local(&self, at: HotData) -> Result<Vec<u8>, HotReadError> {
        let io = |source| HotReadError::Io {
            file: at.file,
            source,
        };
        let want = at.len as usize;
        let read = match self.read_direct(at).await {
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Err(io(error)),
            Err(error) => {
                // Seen once under CI load: io_uring answered EOPNOTSUPP for
                // a read of an ordinary file. The bytes are on disk; read
                // them the plain way rather than fail the reader.
                tracing::warn!(file = at.file, %error, "direct read of a hot chunk failed; reading it with a plain read");
                self.read_plain(at).await.map_err(io)?
            }
        };
        // Both reads return at least `want` bytes or an error.
        let data = &read[..want];
        if crc32c::crc32c(data) != at.crc {
            return Err(HotReadError::Checksum {
                file: at.file,
                offset: at.file_offset,
            });
        }
        Ok(data.to_vec())
    }

    /// The extent's blocks, read with O_DIRECT on the core's ring.
    async fn read_direct(&self, at: HotData) -> io::Result<Vec<u8>> {
        let file = self.file(at.file).await?;
        let span = (at.len as usize).div_ceil(HOT_BLOCK as usize) * HOT_BLOCK as usize;
        read_exact_aligned(&file, at.file_offset, span).await
    }

    /// The extent's bytes, read with a plain `pread` on the blocking pool.
    async fn read_plain(&self, at: HotData) -> io::Result<Vec<u8>> {
        let path = self.path(at.file);
        glommio::executor()
            .spawn_blocking(move || {
                use std::os::unix::fs::FileExt;
                let mut buf = vec![0; at.len as usize];
                std::fs::File::open(&path)?.read_exact_at(&mut buf, at.file_offset)?;
                Ok(buf)
            })
            .await
    }

    /// Deletes file `id` (nothing names it any more): the local copy and
    /// the tier's.
    pub async fn remove(&self, id: u64) -> io::Result<()> {
        if let Some(tier) = &self.tier
            && self.stored.borrow().contains_key(&id)
        {
            tier.delete(object_name(self.core, id))
                .await
                .map_err(io::Error::other)?;
            self.stored.borrow_mut().remove(&id);
        }
        self.open.borrow_mut().remove(&id);
        let path = self.path(id);
        let removed = glommio::executor()
            .spawn_blocking(move || match std::fs::remove_file(&path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            })
            .await;
        if removed.is_ok() {
            self.on_disk.borrow_mut().remove(&id);
        }
        removed
    }

    async fn file(&self, id: u64) -> io::Result<Rc<DmaFile>> {
        if let Some(file) = self.open.borrow().get(&id) {
            return Ok(file.clone());
        }
        let file = DmaOpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_DSYNC)
            .dma_open(self.path(id))
            .await
            .map_err(io::Error::from)?;
        let file = Rc::new(file);
        self.remember(id, file.clone());
        Ok(file)
    }

    fn remember(&self, id: u64, file: Rc<DmaFile>) {
        let mut open = self.open.borrow_mut();
        if open.len() >= MAX_OPEN_FILES {
            open.clear();
        }
        open.insert(id, file);
    }
}
