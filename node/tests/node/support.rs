//! A real `spate-node` process on temporary directories and loopback ports,
//! and a minimal blocking wire client to talk to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use spate_wire::{
    Decoded, FrameDecoder, FrameEncoder, Hello, HelloReply, Reply, Request, decode_frame,
};

pub struct Node {
    child: Option<Child>,
    pub dir: PathBuf,
    /// Each core's address, from the node's start-up lines.
    pub cores: Vec<SocketAddr>,
    /// The metrics page's address, when started with metrics.
    pub metrics: Option<SocketAddr>,
    cores_flag: usize,
    listen: String,
    sizes: Sizes,
    extra: Extra,
}

/// More flags and environment for a test node.
#[derive(Clone, Debug, Default)]
pub struct Extra {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// Memory and journal sizes a test node starts with.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub cache_mib: u32,
    pub journal_files: u32,
    /// Keep everything in the journal (`--no-flush`).
    pub no_flush: bool,
}

impl Default for Sizes {
    fn default() -> Self {
        Self {
            cache_mib: 64,
            journal_files: 64,
            no_flush: false,
        }
    }
}

/// A new, empty directory for a test node. The counter keeps two tests
/// that picked the same name (in one test process) from sharing one.
fn fresh_dir(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("spate-node-test-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test directory");
    dir
}

impl Node {
    /// Starts a node with `cores` cores on a fresh directory, on ephemeral ports.
    pub fn start(name: &str, cores: usize) -> Self {
        Self::start_listening(name, cores, "127.0.0.1:0")
    }

    /// Starts a node whose cores listen on fixed ports from `listen` on, so a
    /// restart keeps them (clients reconnect to the same addresses).
    pub fn start_listening(name: &str, cores: usize, listen: &str) -> Self {
        let dir = fresh_dir(name);
        Self::start_in(
            dir,
            cores,
            listen.to_string(),
            Sizes::default(),
            Extra::default(),
        )
    }

    /// Starts a node that also serves its metrics page (on an ephemeral port).
    pub fn start_with_metrics(name: &str, cores: usize) -> Self {
        let extra = Extra {
            args: vec!["--metrics".into(), "127.0.0.1:0".into()],
            env: vec![],
        };
        Self::start_extra(name, cores, extra)
    }

    /// Starts a node with more flags and environment, on ephemeral ports.
    pub fn start_extra(name: &str, cores: usize, extra: Extra) -> Self {
        let dir = fresh_dir(name);
        Self::start_in(dir, cores, "127.0.0.1:0".into(), Sizes::default(), extra)
    }

    /// Waits for the node to exit by itself (a test crash point), then
    /// starts it again on the same directory and listen flag with `extra`.
    pub fn wait_and_restart(mut self, extra: Extra) -> (std::process::ExitStatus, Self) {
        let mut child = self.child.take().expect("running");
        let status = child.wait().expect("reaped");
        let dir = std::mem::take(&mut self.dir);
        let node = Self::start_in(dir, self.cores_flag, self.listen.clone(), self.sizes, extra);
        (status, node)
    }

    /// Starts a node with these sizes (journal files are 32 MiB).
    pub fn start_sized(name: &str, cores: usize, sizes: Sizes) -> Self {
        let dir = fresh_dir(name);
        Self::start_in(
            dir,
            cores,
            "127.0.0.1:0".to_string(),
            sizes,
            Extra::default(),
        )
    }

    fn start_in(dir: PathBuf, cores: usize, listen: String, sizes: Sizes, extra: Extra) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_spate-node"))
            .args([
                "--data-dir",
                dir.to_str().expect("utf-8 path"),
                "--listen",
                &listen,
            ])
            .args([
                "--cores",
                &cores.to_string(),
                "--cache-mib",
                &sizes.cache_mib.to_string(),
                "--journal-files",
                &sizes.journal_files.to_string(),
                "--journal-file-mib",
                "32",
            ])
            .args(sizes.no_flush.then_some("--no-flush"))
            .args(&extra.args)
            .envs(extra.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(log_file(&dir))
            .spawn()
            .expect("spate-node starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let mut lines = BufReader::new(stdout).lines();
        let mut addrs = Vec::new();
        let mut metrics = None;
        let wants_metrics = extra.args.iter().any(|a| a == "--metrics");
        while addrs.len() < cores || (wants_metrics && metrics.is_none()) {
            let Some(Ok(line)) = lines.next() else {
                let log = std::fs::read_to_string(dir.join("node.log")).unwrap_or_default();
                panic!("the node exited before it listened:\n{log}");
            };
            if let Some(addr) = line.split("listening on ").nth(1) {
                addrs.push(addr.trim().parse().expect("an address"));
            }
            if let Some(url) = line.split("metrics on http://").nth(1) {
                let addr = url.trim().trim_end_matches("/metrics");
                metrics = Some(addr.parse().expect("a metrics address"));
            }
        }
        Self {
            child: Some(child),
            dir,
            cores: addrs,
            metrics,
            cores_flag: cores,
            listen,
            sizes,
            extra,
        }
    }

    /// Kills the node without warning (SIGKILL) and starts it again on the
    /// same directories and listen address.
    pub fn kill_and_restart(mut self) -> Self {
        let mut child = self.child.take().expect("running");
        child.kill().expect("kill");
        child.wait().expect("reaped");
        // The directory moves to the new node: this one, dropped on return,
        // must not delete it from under the restarted process.
        let dir = std::mem::take(&mut self.dir);
        let extra = self.extra.clone();
        Self::start_in(dir, self.cores_flag, self.listen.clone(), self.sizes, extra)
    }

    /// Waits up to `limit` for the node to exit by itself.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        let child = self.child.as_mut()?;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Freezes the node (SIGSTOP): it reads nothing and answers nothing, so
    /// what clients send piles up in their sockets. A node dropped while
    /// frozen is still killed.
    pub fn freeze(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Lets a frozen node go on (SIGCONT).
    pub fn thaw(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: i32) {
        let child = self.child.as_ref().expect("running");
        // SAFETY: sends a signal to our own child process, not yet reaped.
        let sent = unsafe { libc::kill(child.id() as i32, signal) };
        assert_eq!(sent, 0, "signal {signal} sent");
    }

    /// Stops the node with SIGTERM and returns its exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        // SAFETY: sends a signal to our own child process.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        child.wait().expect("reaped")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A blocking connection that speaks the protocol one request at a time.
pub struct Conn {
    pub stream: TcpStream,
    encoder: FrameEncoder,
    decoder: FrameDecoder,
    next_id: u64,
    pub hello: Option<HelloReply>,
}

impl Conn {
    pub fn raw(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        Self {
            stream,
            encoder: FrameEncoder::new(16 << 20),
            decoder: FrameDecoder::new(64 << 20),
            next_id: 1,
            hello: None,
        }
    }

    pub fn open(addr: SocketAddr) -> Self {
        let mut conn = Self::raw(addr);
        let hello = Request::Hello(Hello {
            min_version: spate_wire::MIN_VERSION,
            max_version: spate_wire::MAX_VERSION,
        });
        match conn.call(hello) {
            Reply::HelloReply(reply) => conn.hello = Some(reply),
            other => panic!("handshake answered {other:?}"),
        }
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

    pub fn receive(&mut self) -> (u64, Reply) {
        self.try_receive().expect("a reply")
    }

    /// The next reply, or `None` once the node closed the connection.
    pub fn try_receive(&mut self) -> Option<(u64, Reply)> {
        let mut buf = [0u8; 64 << 10];
        loop {
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
                    assert_eq!(pos, n, "one request at a time: nothing after the reply");
                    return Some((frame.header.request_id, reply));
                }
            }
        }
    }

    pub fn call(&mut self, request: Request) -> Reply {
        let id = self.send(&request);
        let (reply_id, reply) = self.receive();
        assert_eq!(reply_id, id, "the reply answers the request");
        reply
    }
}

/// Decodes one whole frame from bytes (used by malformed-input tests).
#[allow(dead_code)]
pub fn decode_one(bytes: &[u8]) -> Option<Reply> {
    match decode_frame(bytes, 64 << 20).ok()? {
        Decoded::Frame(frame) => frame.reply().ok()?.to_reply().ok(),
        Decoded::NeedMore(_) => None,
    }
}

/// The node's stderr, appended to DIR/node.log across restarts.
fn log_file(dir: &std::path::Path) -> Stdio {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("node.log"));
    file.map_or_else(|_| Stdio::null(), Stdio::from)
}

/// A base port with the next `count - 1` ports free right now, below the
/// kernel's ephemeral range (so no outgoing connection takes them between a
/// kill and a restart).
pub fn free_ports(count: u16) -> u16 {
    let start = 20_000 + (std::process::id() % 5_000) as u16 * 2;
    (start..30_000)
        .step_by(usize::from(count))
        .find(|&base| {
            (0..count).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok())
        })
        .expect("free ports below the ephemeral range")
}
