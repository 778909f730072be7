//! Settings of a tier.

use crate::format::geometry::{CELL_ALIGN, Codec, Geometry, MAX_CELL_SIZE, MAX_K, MAX_M};

/// How new stripes are shaped, and the bounds of a read.
///
/// The geometry applies to stripes written from now on: each stripe records
/// its own, so a change never affects committed data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierConfig {
    /// Data cells per stripe.
    pub k: u8,
    /// Parity cells per stripe: how many lost shards a stripe survives.
    pub m: u8,
    /// Bytes per cell of a full stripe.
    pub cell_size: u32,
    /// Most bytes one `read` returns (a read holds its output plus at most
    /// one stripe's cells).
    pub max_read_bytes: usize,
    /// Write a stripe's shards to their directories at once (one thread
    /// each). Off, they are written one after another: the order crash tests
    /// enumerate.
    pub parallel_writes: bool,
}

impl Default for TierConfig {
    /// 4+2 with 1 MiB cells: survives two lost directories at 1.5× space, and
    /// fits the six directories of a small server.
    fn default() -> Self {
        Self {
            k: 4,
            m: 2,
            cell_size: 1 << 20,
            max_read_bytes: 64 << 20,
            parallel_writes: true,
        }
    }
}

/// Why a configuration cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("k must be 1..={MAX_K}, got {0}")]
    K(u8),
    #[error("m must be 1..={MAX_M}, got {0}")]
    M(u8),
    #[error("cell size must be a multiple of {CELL_ALIGN} up to {MAX_CELL_SIZE}, got {0}")]
    CellSize(u32),
    #[error("{k}+{m} needs at least {} tier directories, got {dirs}", usize::from(*k) + usize::from(*m))]
    TooFewDirs { k: u8, m: u8, dirs: usize },
    #[error("at most 255 tier directories, got {0}")]
    TooManyDirs(usize),
    #[error("max_read_bytes must be at least 1")]
    MaxRead,
}

impl TierConfig {
    pub fn geometry(&self) -> Geometry {
        Geometry {
            codec: Codec::ReedSolomonLeopard16,
            k: self.k,
            m: self.m,
            cell_size: self.cell_size,
        }
    }

    /// Checks the settings for a tier of `dirs` directories.
    pub fn check(&self, dirs: usize) -> Result<(), ConfigError> {
        if self.k == 0 || self.k > MAX_K {
            return Err(ConfigError::K(self.k));
        }
        if self.m == 0 || self.m > MAX_M {
            return Err(ConfigError::M(self.m));
        }
        if self.geometry().check("config").is_err() {
            return Err(ConfigError::CellSize(self.cell_size));
        }
        if dirs > 255 {
            return Err(ConfigError::TooManyDirs(dirs));
        }
        // Each shard of a stripe on its own failure domain, or m means nothing.
        if dirs < self.geometry().shards() {
            return Err(ConfigError::TooFewDirs {
                k: self.k,
                m: self.m,
                dirs,
            });
        }
        if self.max_read_bytes == 0 {
            return Err(ConfigError::MaxRead);
        }
        Ok(())
    }
}
