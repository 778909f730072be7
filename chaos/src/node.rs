//! The `spate-node` process under test: started on a data directory and
//! fixed loopback ports, killed with SIGKILL, started again.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::error::{HarnessError, tail};
use crate::spawn;

/// How long a node may take to print its listening lines. A liveness guard
/// against a node that hangs in recovery, not a performance expectation.
const START_PATIENCE: Duration = Duration::from_secs(60);

/// How to start the node; the same for every restart of one epoch.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// The `spate-node` binary.
    pub bin: PathBuf,
    /// Its data directory (must exist).
    pub data_dir: PathBuf,
    /// Core 0's address; core N listens on the port N above.
    pub listen: SocketAddr,
    /// Cores to run.
    pub cores: usize,
    /// Its stderr and stdout, appended across restarts.
    pub log: PathBuf,
    /// More flags (sizes: `--cache-mib`, `--journal-file-mib`, ...).
    pub args: Vec<String>,
    /// The node's open-file limit (soft and hard), when the harness needs
    /// more sockets than the machine's default allows; `None` inherits it.
    pub open_files: Option<u64>,
}

/// A running node.
#[derive(Debug)]
pub struct NodeProcess {
    child: Child,
    /// Each core's address, from its `listening on` line.
    pub cores: Vec<SocketAddr>,
}

impl NodeProcess {
    /// Starts the node and waits until every core listens.
    pub fn start(spec: &NodeSpec) -> Result<NodeProcess, HarnessError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log)
            .map_err(HarnessError::io(format!("opening {}", spec.log.display())))?;
        let stderr = log
            .try_clone()
            .map_err(HarnessError::io("duplicating the node log handle"))?;
        let mut command = spawn::command(&spec.bin);
        if let Some(limit) = spec.open_files {
            spawn::limit_open_files(&mut command, limit);
        }
        let mut child = command
            .arg("--data-dir")
            .arg(&spec.data_dir)
            .args(["--listen", &spec.listen.to_string()])
            .args(["--cores", &spec.cores.to_string()])
            .args(&spec.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(HarnessError::io(format!("starting {}", spec.bin.display())))?;
        let Some(stdout) = child.stdout.take() else {
            return Err(start_failed(child, spec, "its stdout was not piped"));
        };
        let (tx, rx) = mpsc::channel();
        // Drains stdout for the node's whole life (a closed pipe would make
        // its next print fail) and copies it to the log.
        std::thread::spawn(move || drain(stdout, log, tx));
        let mut cores = Vec::new();
        while cores.len() < spec.cores {
            match rx.recv_timeout(START_PATIENCE) {
                Ok(addr) => cores.push(addr),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let reason = format!("no listening lines within {START_PATIENCE:?}");
                    return Err(start_failed(child, spec, &reason));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(start_failed(child, spec, "it exited before it listened"));
                }
            }
        }
        Ok(NodeProcess { child, cores })
    }

    /// The process id (for the progress lines).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, then reap: no clean shutdown, no final flush.
    pub fn kill(mut self) -> Result<(), HarnessError> {
        self.child
            .kill()
            .map_err(HarnessError::io("killing the node"))?;
        self.child
            .wait()
            .map_err(HarnessError::io("reaping the node"))?;
        Ok(())
    }

    /// Whether it exited on its own (a crash), with how.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        // Harmless after `kill` (already reaped): both calls just fail.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_failed(mut child: Child, spec: &NodeSpec, reason: &str) -> HarnessError {
    let _ = child.kill();
    let status = child
        .wait()
        .map_or_else(|e| e.to_string(), |s| s.to_string());
    HarnessError::NodeStart {
        reason: format!("{reason} ({status})"),
        log_tail: tail(&spec.log, 4000),
    }
}

fn drain(stdout: impl std::io::Read, mut log: std::fs::File, found: mpsc::Sender<SocketAddr>) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { return };
        let _ = writeln!(log, "{line}");
        if let Some(addr) = line.split("listening on ").nth(1)
            && let Ok(addr) = addr.trim().parse()
        {
            // The receiver is gone once the node is up; later lines only
            // go to the log.
            let _ = found.send(addr);
        }
    }
}

/// The binary next to this executable, where cargo puts both.
pub fn default_bin() -> Result<PathBuf, HarnessError> {
    let exe = std::env::current_exe().map_err(HarnessError::io("finding this executable"))?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    Ok(dir.join("spate-node"))
}
