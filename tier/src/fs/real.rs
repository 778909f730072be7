//! [`TierFs`] on a directory of a real file system, through `std::fs`.
//!
//! Buffered I/O: the tier's writes are whole shard files written once, and the
//! page cache does no harm there as long as every durability point is an
//! fsync. A file written by `create`/`write` keeps its descriptor open until
//! `sync`, so a writeback error is reported to the descriptor that wrote the
//! data (after a failed fsync Linux may drop the dirty pages; a fresh
//! descriptor could then report success).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::TierFs;

/// A tier directory on disk.
pub struct RealDir {
    path: PathBuf,
    /// Files written but not yet synced.
    open: Mutex<HashMap<String, File>>,
}

impl RealDir {
    /// The directory at `path`, which must exist.
    pub fn new(path: impl Into<PathBuf>) -> io::Result<Self> {
        let path = path.into();
        if !fs::metadata(&path)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", path.display()),
            ));
        }
        Ok(Self {
            path,
            open: Mutex::new(HashMap::new()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn file_path(&self, name: &str) -> io::Result<PathBuf> {
        // The tier only makes plain names; refuse anything that could leave
        // the directory.
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad file name {name:?}"),
            ));
        }
        Ok(self.path.join(name))
    }

    fn open_files(&self) -> std::sync::MutexGuard<'_, HashMap<String, File>> {
        // A panic while holding the lock leaves a map of open files, still
        // consistent: keep using it.
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl TierFs for RealDir {
    fn create(&self, name: &str) -> io::Result<()> {
        let file = File::create(self.file_path(name)?)?;
        self.open_files().insert(name.to_owned(), file);
        Ok(())
    }

    fn write(&self, name: &str, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut open = self.open_files();
        if !open.contains_key(name) {
            let file = OpenOptions::new().write(true).open(self.file_path(name)?)?;
            open.insert(name.to_owned(), file);
        }
        let file = open
            .get(name)
            .ok_or_else(|| io::Error::other("open file vanished"))?;
        file.write_all_at(data, offset)
    }

    fn sync(&self, name: &str) -> io::Result<()> {
        let held = self.open_files().remove(name);
        let file = match held {
            Some(file) => file,
            None => File::open(self.file_path(name)?)?,
        };
        file.sync_all()
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        fs::rename(self.file_path(from)?, self.file_path(to)?)
    }

    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.path)?.sync_all()
    }

    fn read(&self, name: &str, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        File::open(self.file_path(name)?)?.read_at(buf, offset)
    }

    fn file_len(&self, name: &str) -> io::Result<u64> {
        Ok(fs::metadata(self.file_path(name)?)?.len())
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.path)? {
            let entry = entry?;
            // Names that are not UTF-8 are not the tier's: skip them.
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        self.open_files().remove(name);
        fs::remove_file(self.file_path(name)?)
    }
}
