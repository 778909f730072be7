//! Starting child processes that cannot outlive the crash loop.
//!
//! The loop kills its children with SIGKILL on purpose, many times; if the
//! loop itself dies (a panic, a CI timeout, Ctrl-C), its nodes, writers and
//! readers must die with it rather than keep ports and CPU.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// A command whose process gets SIGKILL when the thread that spawned it
/// exits. Spawn from the main thread, which lives as long as the loop.
pub fn command(program: &Path) -> Command {
    let mut command = Command::new(program);
    // SAFETY: the closure runs in the forked child before exec and only
    // calls prctl, which is async-signal-safe and touches no memory of the
    // parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}
