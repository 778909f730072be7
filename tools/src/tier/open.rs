//! Opening a tier from the command line: the directories in the node's
//! order, and the erasure code they were written with.

use std::path::PathBuf;

use spate_tier::fs::real::RealDir;
use spate_tier::{Tier, TierConfig};

/// `K+M`, as `--ec` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ec {
    pub k: u8,
    pub m: u8,
}

/// Why a tier could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("--ec {0:?}: expected K+M, e.g. 4+2")]
    BadEc(String),
    #[error("no tier directories: pass --tier-dir DIR once per directory, in the node's order")]
    NoDirs,
    #[error(
        "tier directory {index} ({}): {cause}; a lost disk's directory must exist (empty) \
         before `spate tier repair` can refill it",
        path.display()
    )]
    Dir {
        index: usize,
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{0}; pass every tier directory, in the node's order")]
    Config(spate_tier::ConfigError),
}

impl std::str::FromStr for Ec {
    type Err = OpenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || OpenError::BadEc(s.to_string());
        let (k, m) = s.split_once('+').ok_or_else(bad)?;
        Ok(Ec {
            k: k.trim().parse().map_err(|_| bad())?,
            m: m.trim().parse().map_err(|_| bad())?,
        })
    }
}

/// The tier over `dirs`. Scrub, repair and status read each stripe's own
/// geometry from its manifest, so the code only matters as a check that
/// enough directories were given; without `--ec`, the smallest code (1+1)
/// is checked, which any tier of two or more directories passes.
pub fn open(dirs: &[PathBuf], ec: Option<Ec>) -> Result<Tier<RealDir>, OpenError> {
    if dirs.is_empty() {
        return Err(OpenError::NoDirs);
    }
    let real = dirs
        .iter()
        .enumerate()
        .map(|(index, path)| {
            RealDir::new(path).map_err(|cause| OpenError::Dir {
                index,
                path: path.clone(),
                cause,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ec = ec.unwrap_or(Ec { k: 1, m: 1 });
    let config = TierConfig {
        k: ec.k,
        m: ec.m,
        ..TierConfig::default()
    };
    Tier::open(real, config).map_err(OpenError::Config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_reads_k_plus_m() {
        assert_eq!("4+2".parse::<Ec>().ok(), Some(Ec { k: 4, m: 2 }));
        assert!("4".parse::<Ec>().is_err());
        assert!("4+x".parse::<Ec>().is_err());
        assert!("300+1".parse::<Ec>().is_err());
    }
}
