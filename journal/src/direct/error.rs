//! Why the O_DIRECT backend could not start, or the floor probe could not run.

use std::io;
use std::path::PathBuf;

/// A failure to open [`super::DirectStorage`] or to measure the device floor.
/// Each message names the directory and says what to check.
#[derive(Debug, thiserror::Error)]
pub enum DirectError {
    #[error("cannot create journal directory {dir}: {source}")]
    CreateDir { dir: PathBuf, source: io::Error },

    #[error("{dir} exists but is not a directory")]
    NotADirectory { dir: PathBuf },

    #[error(
        "the filesystem of {dir} does not support O_DIRECT (tmpfs? ramfs? a network mount?); \
         put the journal on a local disk filesystem such as ext4 or xfs"
    )]
    NoDirectIo { dir: PathBuf },

    #[error("cannot create a probe file in {dir}: {source}")]
    Probe { dir: PathBuf, source: io::Error },

    #[error(
        "io_uring setup failed: {source} (is io_uring disabled by the kernel.io_uring_disabled \
         sysctl or a seccomp profile, e.g. Docker's default?)"
    )]
    RingSetup { source: io::Error },

    #[error("cannot start the file-preparation thread: {source}")]
    Worker { source: io::Error },

    #[error("device floor probe in {dir}: {what}: {source}")]
    Floor {
        dir: PathBuf,
        what: &'static str,
        source: io::Error,
    },
}
