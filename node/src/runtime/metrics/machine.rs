//! The machine's figures for the metrics page: CPUs, memory, and the space
//! on the file systems of the data and journal directories. Read by the
//! metrics thread at each scrape (a `statvfs` and a `/proc/meminfo` read),
//! so `spate node status` can show them from another machine.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Directories whose file systems are reported, by label.
#[derive(Clone, Debug)]
pub struct Watched {
    pub dirs: Vec<(&'static str, PathBuf)>,
}

/// Space on one file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct Space {
    pub total: u64,
    pub available: u64,
}

pub struct Machine {
    pub cpus: usize,
    pub memory_bytes: u64,
    pub memory_available_bytes: u64,
    /// Per watched directory; `None` where `statvfs` failed.
    pub disks: Vec<(&'static str, Option<Space>)>,
}

impl Machine {
    pub fn read(watched: &Watched) -> Machine {
        let mut system = sysinfo::System::new();
        system.refresh_memory();
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            memory_bytes: system.total_memory(),
            memory_available_bytes: system.available_memory(),
            disks: watched
                .dirs
                .iter()
                .map(|(label, dir)| (*label, space(dir)))
                .collect(),
        }
    }
}

fn space(dir: &Path) -> Option<Space> {
    let path = CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs only writes the struct; zeroed is a valid value of it.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and outlives the call.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    let block = stat.f_frsize as u64;
    Some(Space {
        total: stat.f_blocks as u64 * block,
        available: stat.f_bavail as u64 * block,
    })
}
