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

/// Sets the open-file limit of the process `command` starts (its soft limit,
/// and its hard limit if that is lower). The overload cases hold thousands of
/// sockets on the node; its limit is set here rather than assumed from the
/// machine (1024 by default on many). Raising a hard limit needs privilege:
/// without it, the spawn fails with the error.
pub fn limit_open_files(command: &mut Command, limit: u64) {
    // SAFETY: the closure runs in the forked child before exec and only calls
    // getrlimit and setrlimit, plain system calls, on a value on its stack.
    unsafe {
        command.pre_exec(move || {
            let mut value = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut value) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            value.rlim_cur = limit;
            value.rlim_max = value.rlim_max.max(limit);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &value) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
