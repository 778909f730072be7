//! The writer and reader processes of an epoch: this same executable
//! re-executed with a hidden subcommand, started, killed and restarted by
//! the loop.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};

use crate::error::{HarnessError, tail};
use crate::spawn;

/// A worker's role, as its subcommand names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Appends and logs SENT/ACKED.
    Writer,
    /// Follows and logs SEEN.
    Reader,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Writer => "writer",
            Role::Reader => "reader",
        })
    }
}

/// Everything a worker is started with, except its seed.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    /// This executable.
    pub exe: PathBuf,
    /// The epoch directory.
    pub dir: PathBuf,
    /// Core 0 of the node.
    pub node: SocketAddr,
    /// The epoch's segments.
    pub segments: Vec<String>,
    /// Writers' average pause between bursts.
    pub pace_ms: u64,
}

/// One running worker process.
#[derive(Debug)]
pub struct Worker {
    /// Its role.
    pub role: Role,
    /// Its index within the role (the writer index is its writer id).
    pub index: u32,
    child: Child,
    stderr: PathBuf,
}

impl Worker {
    /// Starts `role` number `index`.
    pub fn start(
        spec: &WorkerSpec,
        role: Role,
        index: u32,
        seed: u64,
    ) -> Result<Worker, HarnessError> {
        let stderr_path = spec.dir.join(format!("{role}-{index}.err"));
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr_path)
            .map_err(HarnessError::io(format!(
                "opening {}",
                stderr_path.display()
            )))?;
        let mut command = spawn::command(&spec.exe);
        command
            .arg(role.to_string())
            .arg("--dir")
            .arg(&spec.dir)
            .args(["--index", &index.to_string()])
            .args(["--node", &spec.node.to_string()])
            .args(["--seed", &seed.to_string()])
            .args(["--pace-ms", &spec.pace_ms.to_string()]);
        for segment in &spec.segments {
            command.args(["--segment", segment]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(HarnessError::io(format!("starting {role} {index}")))?;
        Ok(Worker {
            role,
            index,
            child,
            stderr: stderr_path,
        })
    }

    /// SIGKILL, then reap.
    pub fn kill(mut self) -> Result<(), HarnessError> {
        let context = format!("killing {} {}", self.role, self.index);
        self.child
            .kill()
            .map_err(HarnessError::io(context.clone()))?;
        self.child.wait().map_err(HarnessError::io(context))?;
        Ok(())
    }

    /// How it exited, if it did (workers run until killed: any exit is a
    /// finding, reported through its log or its stderr).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The end of its stderr, for reports.
    pub fn stderr_tail(&self) -> String {
        tail(&self.stderr, 2000)
    }

    /// Where its stderr goes.
    pub fn stderr_path(&self) -> &Path {
        &self.stderr
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
