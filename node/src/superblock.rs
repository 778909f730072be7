//! The superblock: what a data directory was initialised with.
//!
//! The container count decides which container every segment lives in, and
//! the core count which journal holds each container's records; neither may
//! change under existing data. Written once, atomically (temporary file,
//! fsync, rename, fsync of the directory).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const FILE_NAME: &str = "superblock.toml";
const FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Superblock {
    pub format: u32,
    /// Identifies this node's data; also the journals' id.
    pub node_id: u128,
    pub containers: u32,
    pub cores: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SuperblockError {
    #[error("data directory {0} does not exist (create it, or point --data-dir elsewhere)")]
    Missing(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged or not a Spate superblock: {message}")]
    Damaged { path: PathBuf, message: String },
    #[error("{path} has format {found}; this build reads format {FORMAT}")]
    Format { path: PathBuf, found: u32 },
    #[error(
        "the data directory was initialised with {initialised} {what}; --{what} {asked} cannot change that"
    )]
    Mismatch {
        what: &'static str,
        initialised: u64,
        asked: u64,
    },
}

impl Superblock {
    /// Reads the superblock of `dir`, or initialises `dir` with one.
    pub fn load_or_init(
        dir: &Path,
        cores: usize,
        containers: u32,
    ) -> Result<Self, SuperblockError> {
        if !dir.is_dir() {
            return Err(SuperblockError::Missing(dir.to_path_buf()));
        }
        let path = dir.join(FILE_NAME);
        if !path.exists() {
            let fresh = Self {
                format: FORMAT,
                node_id: fresh_node_id(),
                containers,
                cores,
            };
            fresh.write(dir)?;
            return Ok(fresh);
        }
        let found = Self::read(&path)?;
        if found.cores != cores {
            return Err(SuperblockError::Mismatch {
                what: "cores",
                initialised: found.cores as u64,
                asked: cores as u64,
            });
        }
        Ok(found)
    }

    fn read(path: &Path) -> Result<Self, SuperblockError> {
        let io = |source| SuperblockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text = fs::read_to_string(path).map_err(io)?;
        let found: Self = toml::from_str(&text).map_err(|e| SuperblockError::Damaged {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if found.format != FORMAT {
            return Err(SuperblockError::Format {
                path: path.to_path_buf(),
                found: found.format,
            });
        }
        Ok(found)
    }

    fn write(&self, dir: &Path) -> Result<(), SuperblockError> {
        let temp = dir.join(format!("{FILE_NAME}.tmp"));
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SuperblockError::Io { path, source }
        };
        let text = toml::to_string(self).map_err(|e| SuperblockError::Damaged {
            path: temp.clone(),
            message: e.to_string(),
        })?;
        let mut file = File::create(&temp).map_err(io(&temp))?;
        file.write_all(text.as_bytes()).map_err(io(&temp))?;
        file.sync_all().map_err(io(&temp))?;
        fs::rename(&temp, dir.join(FILE_NAME)).map_err(io(dir))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
    }
}

/// A node id unlikely to repeat: time, process id and stack address mixed.
fn fresh_node_id() -> u128 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let marker = 0u8;
    let addr = &marker as *const u8 as usize as u128;
    now ^ (u128::from(std::process::id()) << 64) ^ addr.rotate_left(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_keeps_its_shape() {
        let dir = std::env::temp_dir().join(format!("spate-sb-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        let first = Superblock::load_or_init(&dir, 2, 8).expect("init");
        let again = Superblock::load_or_init(&dir, 2, 16).expect("reload");
        assert_eq!(first, again, "containers are fixed at initialisation");
        assert!(matches!(
            Superblock::load_or_init(&dir, 1, 8),
            Err(SuperblockError::Mismatch { .. })
        ));
        fs::remove_dir_all(&dir).expect("cleanup");
        assert!(matches!(
            Superblock::load_or_init(&dir, 2, 8),
            Err(SuperblockError::Missing(_))
        ));
    }
}
