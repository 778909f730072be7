//! The storage seam: every byte the tier reads or writes goes through
//! [`TierFs`], one instance per tier directory (a failure domain).
//!
//! The operations are the ones the commit protocol needs and nothing more, by
//! file name within the directory. [`real::RealDir`] is a directory on a real
//! file system; [`sim::SimFs`] simulates directories that lose unsynced data
//! at a power cut, fail with EIO or ENOSPC on demand, or vanish.

pub mod real;
pub mod sim;

use std::io;

/// One tier directory.
///
/// What the tier relies on (see `docs/tier.md`):
/// - after `sync(f)` returns, the bytes written to `f` survive a power cut;
/// - after `sync_dir()` returns, every earlier `create`, `rename` and `remove`
///   in the directory survives a power cut;
/// - `rename` replaces its target atomically: after a crash the name refers to
///   the old file or the new one, never a mix.
///
/// Anything not synced may survive a power cut, wholly, partly or not at all.
/// Implementations are shared between threads: reads of one stripe go to all
/// directories at once.
pub trait TierFs: Send + Sync {
    /// Creates `name` empty, replacing any file of that name.
    fn create(&self, name: &str) -> io::Result<()>;
    /// Writes all of `data` at `offset` of `name`.
    fn write(&self, name: &str, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Makes `name`'s bytes durable.
    fn sync(&self, name: &str) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Makes the directory's entries (creates, renames, removals) durable.
    fn sync_dir(&self) -> io::Result<()>;
    /// Reads into `buf` from `offset`; fewer bytes only at the end of the file.
    fn read(&self, name: &str, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// The length of `name` in bytes.
    fn file_len(&self, name: &str) -> io::Result<u64>;
    /// The names of the files in the directory, in no particular order.
    fn list(&self) -> io::Result<Vec<String>>;
    /// Removes `name`.
    fn remove(&self, name: &str) -> io::Result<()>;
}

/// Reads as much of `name` from `offset` as fills `buf` or the file holds.
pub(crate) fn read_full<F: TierFs + ?Sized>(
    fs: &F,
    name: &str,
    offset: u64,
    buf: &mut [u8],
) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let n = fs.read(name, offset + done as u64, &mut buf[done..])?;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

/// Whether an I/O error means the device is out of room (retry after space
/// is freed) rather than broken.
pub fn is_no_space(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}
