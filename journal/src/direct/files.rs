//! Journal files on a real filesystem: names, listing, opening with O_DIRECT,
//! blocking reads, and preparing (zero-filling) a file.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::error::DirectError;
use super::ring::fallocate_keep_size;
use crate::aligned::{AlignedBuf, BLOCK};
use crate::storage::{Slot, SlotInfo};

/// Size of each zero-filling write while preparing a file.
pub(crate) const ZERO_FILL_CHUNK: usize = 1 << 20;

/// Name of the file `open` creates to check O_DIRECT support; never a slot name.
const PROBE_NAME: &str = ".direct-probe";

/// `NNNNNNNN.journal`: at least eight digits, zero-padded.
pub(crate) fn slot_file_name(slot: Slot) -> String {
    format!("{slot:08}.journal")
}

/// The slot a file name belongs to, if it is exactly a name
/// [`slot_file_name`] produces.
pub(crate) fn parse_slot_file_name(name: &str) -> Option<Slot> {
    let digits = name.strip_suffix(".journal")?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let slot: Slot = digits.parse().ok()?;
    (slot_file_name(slot) == name).then_some(slot)
}

pub fn slot_path(dir: &Path, slot: Slot) -> PathBuf {
    dir.join(slot_file_name(slot))
}

/// The journal files in `dir` with their sizes; other files are ignored.
pub fn list_slots(dir: &Path) -> io::Result<Vec<SlotInfo>> {
    let mut slots = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Some(slot) = entry.file_name().to_str().and_then(parse_slot_file_name) else {
            continue;
        };
        let meta = entry.metadata()?;
        if meta.is_file() {
            slots.push(SlotInfo {
                slot,
                len: meta.len(),
            });
        }
    }
    Ok(slots)
}

/// Opens `path` read-write with O_DIRECT (and O_CLOEXEC, which std always sets).
pub(crate) fn open_direct(path: &Path, create: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .custom_flags(libc::O_DIRECT)
        .open(path)
}

/// Makes `dir` exist, durably: a directory created here is synced into its parent.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), DirectError> {
    let create_err = |source| DirectError::CreateDir {
        dir: dir.to_path_buf(),
        source,
    };
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(_) => {
            return Err(DirectError::NotADirectory {
                dir: dir.to_path_buf(),
            });
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(create_err(e)),
    }
    fs::create_dir_all(dir).map_err(create_err)?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir(parent).map_err(create_err)?;
    }
    Ok(())
}

/// Checks that files in `dir` can be opened with O_DIRECT. Filesystems without
/// it (ramfs, some FUSE and network mounts) refuse the open with EINVAL.
pub fn probe_direct_io(dir: &Path) -> Result<(), DirectError> {
    let path = dir.join(PROBE_NAME);
    let opened = open_direct(&path, true);
    // The file is created even when the O_DIRECT open then fails.
    let removed = fs::remove_file(&path);
    match opened {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Err(DirectError::NoDirectIo {
            dir: dir.to_path_buf(),
        }),
        Err(source) => Err(DirectError::Probe {
            dir: dir.to_path_buf(),
            source,
        }),
        Ok(_) => removed.map_err(|source| DirectError::Probe {
            dir: dir.to_path_buf(),
            source,
        }),
    }
}

/// fsync of a directory, so that entries created or removed in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reads up to `buf.capacity()` bytes at `offset` into `buf`, looping on short
/// reads until the buffer is full or the file ends.
pub fn read_full_at(file: &File, offset: u64, buf: &mut AlignedBuf) -> io::Result<()> {
    assert!(
        offset.is_multiple_of(BLOCK as u64),
        "read offset {offset} is not block-aligned"
    );
    let mut filled = 0;
    buf.set_len(0);
    // O_DIRECT needs block-aligned offsets: a read that ends off a block boundary
    // has reached the end of the file.
    while filled < buf.capacity() && filled % BLOCK == 0 {
        match file.read_at(&mut buf.spare_all()[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    buf.set_len(filled);
    Ok(())
}

/// Makes `path` a file of exactly `len` bytes, allocated, written and durable,
/// with its directory entry durable. A file that already has `len` bytes keeps
/// its contents; any other is rewritten with zeros. `stop` abandons the work
/// between chunks (the storage is shutting down).
pub(crate) fn prepare_file(path: &Path, len: u64, stop: &AtomicBool) -> io::Result<()> {
    assert!(
        len > 0 && len.is_multiple_of(BLOCK as u64),
        "file length {len} is not whole blocks"
    );
    let file = open_direct(path, true)?;
    if file.metadata()?.len() != len {
        zero_fill(&file, len, stop)?;
    }
    file.sync_all()?;
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("journal file without a directory"))?;
    sync_dir(dir)
}

/// Rewrites `file` as `len` bytes of zeros.
///
/// The blocks are allocated first without changing the size, then written in
/// order, so the size reaches `len` only when every block before it holds
/// written zeros. A crash part-way leaves a short file, which the next prepare
/// redoes, never a full-size file with unwritten extents (on which every later
/// sync would also have to convert extents).
fn zero_fill(file: &File, len: u64, stop: &AtomicBool) -> io::Result<()> {
    file.set_len(0)?;
    match fallocate_keep_size(file, len) {
        Ok(()) => {}
        // Not every filesystem allocates ahead; the writes allocate anyway.
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {}
        Err(e) => return Err(e),
    }
    let mut zeros = AlignedBuf::new(ZERO_FILL_CHUNK);
    let mut offset = 0;
    while offset < len {
        if stop.load(Ordering::Relaxed) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "storage closed"));
        }
        let chunk = (len - offset).min(ZERO_FILL_CHUNK as u64) as usize;
        zeros.set_len(chunk);
        write_block_at(file, zeros.as_slice(), offset)?;
        offset += chunk as u64;
    }
    Ok(())
}

/// One O_DIRECT write of all of `bytes`. A short write is an error: the rest
/// could not be retried at an unaligned offset anyway, and it means the disk
/// is full or failing.
fn write_block_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    loop {
        match file.write_at(bytes, offset) {
            Ok(n) if n == bytes.len() => return Ok(()),
            Ok(n) => {
                let msg = format!(
                    "short write: {n} of {} bytes at offset {offset}",
                    bytes.len()
                );
                return Err(io::Error::new(io::ErrorKind::WriteZero, msg));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}
