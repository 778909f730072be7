//! The write steps of the commit protocol, on one directory.

use crate::error::FsError;
use crate::format::names::tmp_file;
use crate::fs::TierFs;

/// Writes `parts` (offset, bytes) to `name`'s temporary file and syncs it. On
/// failure the temporary file is removed if possible.
pub(super) fn write_tmp<F: TierFs>(
    dir: usize,
    fs: &F,
    name: &str,
    parts: &[(u64, &[u8])],
) -> Result<String, FsError> {
    let tmp = tmp_file(name);
    let result = (|| {
        fs.create(&tmp)
            .map_err(|e| FsError::new(dir, "create", &tmp, &e))?;
        for (offset, bytes) in parts {
            fs.write(&tmp, *offset, bytes)
                .map_err(|e| FsError::new(dir, "write", &tmp, &e))?;
        }
        fs.sync(&tmp)
            .map_err(|e| FsError::new(dir, "sync", &tmp, &e))
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(error) => {
            // Best effort: a leftover temporary file is an orphan, collected
            // later, never read.
            let _ = fs.remove(&tmp);
            Err(error)
        }
    }
}

/// Writes `name` durably under its own name: temporary file, sync, rename.
/// The rename is made durable by the caller's directory sync.
pub(super) fn write_renamed<F: TierFs>(
    dir: usize,
    fs: &F,
    name: &str,
    parts: &[(u64, &[u8])],
) -> Result<(), FsError> {
    let tmp = write_tmp(dir, fs, name, parts)?;
    fs.rename(&tmp, name).map_err(|e| {
        let _ = fs.remove(&tmp);
        FsError::new(dir, "rename", &tmp, &e)
    })
}

pub(super) fn sync_dir<F: TierFs>(dir: usize, fs: &F) -> Result<(), FsError> {
    fs.sync_dir()
        .map_err(|e| FsError::new(dir, "sync_dir", "", &e))
}
