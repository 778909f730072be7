//! A real `spate-node` process with a chosen journal directory and fault
//! plan, and a pipelining wire connection to it.
//!
//! The node tests' own harness (`tests/node/support.rs`) answers one request
//! at a time; a fault test sends a burst of appends and must see every reply
//! to it, whatever the node does next, so it has its own.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use spate_wire::{
    Append, CreateSegment, Decoded, FrameDecoder, FrameEncoder, Hello, Read as ReadRequest, Reply,
    Request,
};

/// The fault plan variable the node reads (see `runtime/storage/faults.rs`).
pub const FAULTS: &str = "SPATE_JOURNAL_FAULTS";

/// How a fault-test node starts.
#[derive(Clone, Debug)]
pub struct Launch {
    /// The data directory; `None` is `data` in the test's directory.
    pub data_dir: Option<PathBuf>,
    /// The journal directory; `None` is the default (`DATA_DIR/journal`).
    pub journal_dir: Option<PathBuf>,
    /// The fault plan (`SPATE_JOURNAL_FAULTS`), if any.
    pub faults: Option<String>,
    pub journal_files: u32,
    /// The read cache: data not yet durable over a quarter of it (each of
    /// the core's four containers gets a quarter) is refused as busy.
    pub cache_mib: u32,
    /// `RUST_LOG` for the node (its default is `info`).
    pub log_filter: Option<String>,
    /// More flags.
    pub args: Vec<String>,
}

impl Default for Launch {
    fn default() -> Self {
        Self {
            data_dir: None,
            journal_dir: None,
            faults: None,
            journal_files: 8,
            cache_mib: 16,
            log_filter: None,
            args: Vec::new(),
        }
    }
}

/// The node did not get as far as listening.
#[derive(Debug)]
pub struct StartFailed {
    pub code: Option<i32>,
    pub log: String,
}

pub struct FaultyNode {
    child: Option<Child>,
    /// The test's directory: the node's stderr is appended to `node.log`
    /// in it, and it holds the data directory unless the launch names one.
    pub dir: PathBuf,
    pub addr: SocketAddr,
    launch: Launch,
}

impl FaultyNode {
    /// A fresh directory for test `name` (removed first if left over).
    pub fn fresh_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("spate-faults-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test directory");
        dir
    }

    /// Starts a one-core node for the test directory `dir`.
    pub fn start(dir: PathBuf, launch: Launch) -> Result<Self, StartFailed> {
        let data_dir = launch.data_dir.clone().unwrap_or_else(|| dir.join("data"));
        std::fs::create_dir_all(&data_dir).expect("data directory");
        let mut command = Command::new(env!("CARGO_BIN_EXE_spate-node"));
        command
            .args(["--data-dir", path_str(&data_dir), "--listen", "127.0.0.1:0"])
            .args(["--cores", "1", "--journal-file-mib", "32"])
            .args(["--journal-files", &launch.journal_files.to_string()])
            .args(["--cache-mib", &launch.cache_mib.to_string()])
            .args(&launch.args)
            .env_remove(FAULTS)
            .stdout(Stdio::piped())
            .stderr(log_file(&dir));
        if let Some(journal) = &launch.journal_dir {
            command.args(["--journal-dir", path_str(journal)]);
        }
        if let Some(plan) = &launch.faults {
            command.env(FAULTS, plan);
        }
        if let Some(filter) = &launch.log_filter {
            command.env("RUST_LOG", filter);
        }
        let mut child = command.spawn().expect("spate-node starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let addr = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                line.split("listening on ")
                    .nth(1)
                    .and_then(|a| a.trim().parse().ok())
            });
        let Some(addr) = addr else {
            let code = child.wait().ok().and_then(|s| s.code());
            let log = std::fs::read_to_string(dir.join("node.log")).unwrap_or_default();
            let _ = std::fs::remove_dir_all(&dir);
            return Err(StartFailed { code, log });
        };
        Ok(Self {
            child: Some(child),
            dir,
            addr,
            launch,
        })
    }

    /// Stops the node (SIGKILL if it still runs) and starts it again on the
    /// same directories with `faults` as its plan.
    pub fn restart(mut self, faults: Option<String>) -> Result<Self, StartFailed> {
        self.kill();
        let launch = Launch {
            faults,
            ..self.launch.clone()
        };
        // The directory moves to the new node: this one, dropped on return,
        // must not delete it.
        let dir = std::mem::take(&mut self.dir);
        Self::start(dir, launch)
    }

    /// The node's exit status once it has exited on its own, polled
    /// `attempts` times 50 ms apart; `None` if it still runs.
    pub fn exit_status(&mut self, attempts: u32) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        for _ in 0..attempts {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Stops the node with SIGTERM and returns its exit status.
    pub fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        // SAFETY: sends a signal to our own child process.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        child.wait().expect("reaped")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("node.log")).unwrap_or_default()
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for FaultyNode {
    fn drop(&mut self) {
        self.kill();
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 test path")
}

/// The node's stderr, appended to DIR/node.log across restarts.
fn log_file(dir: &Path) -> Stdio {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("node.log"));
    file.map_or_else(|_| Stdio::null(), Stdio::from)
}

/// A connection that may have many requests in flight.
pub struct Conn {
    stream: TcpStream,
    encoder: FrameEncoder,
    decoder: FrameDecoder,
    next_id: u64,
    /// Replies decoded but not yet taken, in arrival order.
    arrived: VecDeque<(u64, Reply)>,
}

impl Conn {
    /// Connects and completes the handshake. `timeout` bounds each wait for
    /// a reply: a node that stops answering fails the test instead of
    /// hanging it.
    pub fn open(addr: SocketAddr, timeout: Duration) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(timeout)).expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        let mut conn = Self {
            stream,
            encoder: FrameEncoder::new(16 << 20),
            decoder: FrameDecoder::new(64 << 20),
            next_id: 1,
            arrived: VecDeque::new(),
        };
        let hello = Request::Hello(Hello {
            min_version: spate_wire::MIN_VERSION,
            max_version: spate_wire::MAX_VERSION,
        });
        let reply = conn.call(hello);
        assert!(matches!(reply, Reply::HelloReply(_)), "{reply:?}");
        conn
    }

    pub fn send(&mut self, request: &Request) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut frame = Vec::new();
        self.encoder
            .encode(request, id, &mut frame)
            .expect("encodes");
        self.stream.write_all(&frame).expect("send");
        id
    }

    /// The next reply; `None` once the node closed the connection, or
    /// when nothing came within the timeout.
    pub fn receive(&mut self) -> Option<(u64, Reply)> {
        let mut buf = vec![0u8; 256 << 10];
        while self.arrived.is_empty() {
            let n = match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => return None,
                Ok(n) => n,
            };
            let mut pos = 0;
            while pos < n {
                let step = self
                    .decoder
                    .decode(&buf[pos..n])
                    .expect("the node sends valid frames");
                pos += step.consumed;
                if let Decoded::Frame(frame) = step.decoded {
                    let reply = frame
                        .reply()
                        .and_then(|r| r.to_reply())
                        .expect("a valid reply");
                    self.arrived.push_back((frame.header.request_id, reply));
                }
            }
        }
        self.arrived.pop_front()
    }

    pub fn call(&mut self, request: Request) -> Reply {
        let id = self.send(&request);
        let (reply_id, reply) = self.receive().expect("a reply");
        assert_eq!(reply_id, id, "the reply answers the request");
        reply
    }
}

pub fn create(conn: &mut Conn, segment: &str) {
    let reply = conn.call(Request::CreateSegment(CreateSegment {
        segment: segment.into(),
    }));
    assert!(matches!(reply, Reply::SegmentCreated(_)), "{reply:?}");
}

pub fn append_request(segment: &str, writer: u128, event: i64, payload: Vec<u8>) -> Request {
    Request::Append(Append {
        segment: segment.into(),
        writer_id: writer,
        event_number: event,
        payload,
    })
}

/// The bytes of event `n`: distinct per event, so a read back shows which
/// events are there and in what order.
pub fn event_bytes(n: i64, len: usize) -> Vec<u8> {
    let tag = format!("<event {n:08}>");
    tag.bytes().cycle().take(len.max(tag.len())).collect()
}

/// Every byte of `segment`, read from offset 0 until a read returns nothing.
pub fn read_all(conn: &mut Conn, segment: &str) -> Vec<u8> {
    let mut data = Vec::new();
    loop {
        let reply = conn.call(Request::Read(ReadRequest {
            segment: segment.into(),
            offset: data.len() as u64,
            max_bytes: 4 << 20,
            wait_ms: 0,
        }));
        match reply {
            Reply::ReadData(chunk) if chunk.data.is_empty() => return data,
            Reply::ReadData(chunk) => data.extend_from_slice(&chunk.data),
            other => panic!("{segment}: read at {} answered {other:?}", data.len()),
        }
    }
}
