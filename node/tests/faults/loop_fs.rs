//! A small ext4 filesystem on a loop device, for real ENOSPC.
//!
//! Mounting needs root and loop devices, so these cases run only when
//! `SPATE_LOOP_TESTS=1` (as `ci/faults` sets it); otherwise a test prints
//! why it skipped and passes. The image and the mount are removed on drop,
//! and `mount -o loop` detaches the loop device on unmount by itself
//! (autoclear), so nothing is left behind even when a test fails.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub const OPT_IN: &str = "SPATE_LOOP_TESTS";

pub struct LoopFs {
    image: PathBuf,
    pub mount: PathBuf,
}

impl LoopFs {
    /// A fresh ext4 filesystem of `mib` MiB mounted for test `name`, or
    /// `None` (with the reason printed) when loop tests are not enabled.
    pub fn mount(name: &str, mib: u64) -> Option<Self> {
        if std::env::var(OPT_IN).as_deref() != Ok("1") {
            println!(
                "skipped {name}: needs root and loop devices; set {OPT_IN}=1 (ci/faults does)"
            );
            return None;
        }
        let base = std::env::temp_dir().join(format!("spate-loop-{name}-{}", std::process::id()));
        let (image, mount) = (base.with_extension("img"), base.with_extension("mnt"));
        let _ = std::fs::remove_file(&image);
        std::fs::create_dir_all(&mount).expect("mount point");
        File::create(&image)
            .and_then(|f| f.set_len(mib << 20))
            .expect("image file");
        run("mkfs.ext4", &["-q", "-F", path_str(&image)]);
        run("mount", &["-o", "loop", path_str(&image), path_str(&mount)]);
        Some(Self { image, mount })
    }

    /// Takes every free block of the filesystem (but less than 1 MiB) with
    /// a file at `path`; deleting it gives the space back.
    pub fn fill(&self, path: &Path) {
        let file = File::create(path).expect("filler file");
        let mut len: i64 = 0;
        for step in [1 << 20, 4 << 10] {
            // SAFETY: fallocate on a file descriptor we own; no memory is
            // passed.
            while unsafe { libc::fallocate(file.as_raw_fd(), 0, len, step) } == 0 {
                len += step;
            }
            let error = std::io::Error::last_os_error();
            assert_eq!(
                error.raw_os_error(),
                Some(libc::ENOSPC),
                "filling {}: {error}",
                self.mount.display()
            );
        }
        file.sync_all().expect("filler durable");
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        // A node killed a moment ago may still hold files open while the
        // kernel tears its io_uring down: unmounting is retried, bounded.
        let umount = |args: &[&str]| {
            Command::new("umount")
                .args(args)
                .arg(&self.mount)
                .status()
                .is_ok_and(|s| s.success())
        };
        let unmounted = (0..100).any(|_| {
            umount(&[]) || {
                std::thread::sleep(Duration::from_millis(100));
                false
            }
        });
        if !unmounted {
            // Detach it from the tree now; the kernel frees the loop device
            // once the last file on it closes.
            umount(&["--lazy"]);
        }
        let _ = std::fs::remove_dir(&self.mount);
        let _ = std::fs::remove_file(&self.image);
    }
}

fn run(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 test path")
}
