//! A std-thread TCP server speaking spate-wire: a stand-in node with
//! several "cores" (one listening port each), in-memory segments, simple
//! long polls, and knobs for tests: count frames per core, hold append
//! acks, stop reading, drop every connection, stop listening.

use std::collections::{HashMap, HashSet};
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use spate_wire::{
    Decoded, Encode, ErrorReply, FrameDecoder, FrameEncoder, HelloReply, Limits, MessageType, Pong,
    Reply, Request,
};

use super::store::{Outcome, Store};

/// Shape of the stand-in node.
#[derive(Clone, Copy)]
pub struct ServerOptions {
    pub cores: u16,
    pub containers: u16,
    pub limits: Limits,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            cores: 2,
            containers: 8,
            limits: Limits::default(),
        }
    }
}

pub struct TestServer {
    shared: Arc<Shared>,
    ports: Vec<u16>,
}

struct Shared {
    options: ServerOptions,
    ports: Mutex<Vec<u16>>,
    store: Mutex<Store>,
    grew: Condvar,
    stats: Mutex<Stats>,
    hold: Mutex<Option<Vec<Held>>>,
    live: Mutex<Vec<TcpStream>>,
    /// Drop the connection (without applying) on the next request of this type.
    drop_next: Mutex<Option<MessageType>>,
    /// Connections read nothing more while set (clients' sockets fill up).
    paused: Mutex<bool>,
    resumed: Condvar,
    stopped: AtomicBool,
}

#[derive(Default)]
struct Stats {
    frames: HashMap<(u16, MessageType), usize>,
    segments: HashMap<u16, HashSet<String>>,
    accepted: HashMap<u16, usize>,
    max_unanswered: usize,
}

/// A reply held back (append acks while holding).
struct Held {
    conn: Arc<ConnOut>,
    frame: Vec<u8>,
}

/// The write side of one server connection.
struct ConnOut {
    stream: Mutex<TcpStream>,
    unanswered: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TestServer {
    pub fn start(options: ServerOptions) -> TestServer {
        let listeners: Vec<TcpListener> = (0..options.cores)
            .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
            .collect();
        let ports: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().expect("addr").port())
            .collect();
        let shared = Arc::new(Shared {
            options,
            ports: Mutex::new(ports.clone()),
            store: Mutex::new(Store::default()),
            grew: Condvar::new(),
            stats: Mutex::new(Stats::default()),
            hold: Mutex::new(None),
            live: Mutex::new(Vec::new()),
            drop_next: Mutex::new(None),
            paused: Mutex::new(false),
            resumed: Condvar::new(),
            stopped: AtomicBool::new(false),
        });
        for (core, listener) in listeners.into_iter().enumerate() {
            let shared = Arc::clone(&shared);
            thread::spawn(move || accept_loop(&shared, core as u16, listener));
        }
        TestServer { shared, ports }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports[0]))
    }

    pub fn port(&self, core: u16) -> u16 {
        self.ports[usize::from(core)]
    }

    /// Frames of `msg_type` received on `core`.
    pub fn frames(&self, core: u16, msg_type: MessageType) -> usize {
        lock(&self.shared.stats)
            .frames
            .get(&(core, msg_type))
            .copied()
            .unwrap_or(0)
    }

    /// Frames of `msg_type` received on any core.
    pub fn frames_total(&self, msg_type: MessageType) -> usize {
        (0..self.shared.options.cores)
            .map(|core| self.frames(core, msg_type))
            .sum()
    }

    /// Segments named by requests that arrived on `core`.
    pub fn segments_on(&self, core: u16) -> HashSet<String> {
        lock(&self.shared.stats)
            .segments
            .get(&core)
            .cloned()
            .unwrap_or_default()
    }

    /// Connections accepted on `core`.
    pub fn accepted(&self, core: u16) -> usize {
        lock(&self.shared.stats)
            .accepted
            .get(&core)
            .copied()
            .unwrap_or(0)
    }

    /// Most requests any connection had unanswered at once.
    pub fn max_unanswered(&self) -> usize {
        lock(&self.shared.stats).max_unanswered
    }

    /// The segment's bytes.
    pub fn data(&self, segment: &str) -> Option<Vec<u8>> {
        lock(&self.shared.store).data(segment)
    }

    /// Applies appends but keeps their acks until [`Self::release_acks`].
    pub fn hold_acks(&self) {
        lock(&self.shared.hold).get_or_insert_with(Vec::new);
    }

    /// Stops holding and sends the held acks.
    pub fn release_acks(&self) {
        let held = lock(&self.shared.hold).take().unwrap_or_default();
        for held in held {
            held.conn.send(&held.frame);
        }
    }

    /// Connections stop reading requests (after the read each may be in):
    /// what clients send piles up in the sockets until they are full.
    pub fn pause_reading(&self) {
        *lock(&self.shared.paused) = true;
    }

    /// Connections read again.
    pub fn resume_reading(&self) {
        *lock(&self.shared.paused) = false;
        self.shared.resumed.notify_all();
    }

    /// Closes every open connection (held acks are lost with them).
    pub fn drop_connections(&self) {
        if let Some(held) = lock(&self.shared.hold).as_mut() {
            held.clear();
        }
        for stream in lock(&self.shared.live).drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// The next request of `msg_type` is not applied: its connection is
    /// closed instead, as if the node failed just then.
    pub fn drop_next(&self, msg_type: MessageType) {
        *lock(&self.shared.drop_next) = Some(msg_type);
    }

    /// Stops listening and drops every connection: the node is gone.
    pub fn stop(&self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.resume_reading();
        for port in lock(&self.shared.ports).iter() {
            // Wakes the accept loop so that it sees the flag and closes.
            let _ = TcpStream::connect(("127.0.0.1", *port));
        }
        self.drop_connections();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(shared: &Arc<Shared>, core: u16, listener: TcpListener) {
    for stream in listener.incoming() {
        if shared.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        *lock(&shared.stats).accepted.entry(core).or_default() += 1;
        let shared = Arc::clone(shared);
        thread::spawn(move || serve(&shared, core, stream));
    }
}

impl ConnOut {
    fn send(&self, frame: &[u8]) {
        let _ = lock(&self.stream).write_all(frame);
        let _ = self
            .unanswered
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }
}

fn serve(shared: &Arc<Shared>, core: u16, mut stream: TcpStream) {
    let Ok(out) = stream.try_clone() else { return };
    if let Ok(clone) = stream.try_clone() {
        lock(&shared.live).push(clone);
    }
    let out = Arc::new(ConnOut {
        stream: Mutex::new(out),
        unanswered: AtomicUsize::new(0),
    });
    let encoder = FrameEncoder::new(shared.options.limits.max_frame_bytes);
    let mut decoder = FrameDecoder::new(shared.options.limits.max_frame_bytes);
    let mut buf = vec![0; 64 * 1024];
    loop {
        let mut paused = lock(&shared.paused);
        while *paused {
            paused = shared
                .resumed
                .wait(paused)
                .unwrap_or_else(|e| e.into_inner());
        }
        drop(paused);
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut input = &buf[..n];
        while !input.is_empty() {
            let Ok(step) = decoder.decode(input) else {
                return;
            };
            let consumed = step.consumed;
            if let Decoded::Frame(frame) = step.decoded {
                let id = frame.header.request_id;
                match frame.request().and_then(|r| r.to_request()) {
                    Ok(request) => handle(shared, core, &out, &encoder, id, request),
                    Err(e) => reply(
                        &out,
                        &encoder,
                        id,
                        &Reply::Error(ErrorReply::new(e.status(), e.to_string())),
                    ),
                }
            }
            input = &input[consumed..];
        }
    }
}

fn reply(out: &ConnOut, encoder: &FrameEncoder, id: u64, reply: &Reply) {
    let mut frame = Vec::new();
    if encoder.encode(reply, id, &mut frame).is_ok() {
        out.send(&frame);
    }
}

fn handle(
    shared: &Arc<Shared>,
    core: u16,
    out: &Arc<ConnOut>,
    encoder: &FrameEncoder,
    id: u64,
    request: Request,
) {
    if let Request::Hello(_) = request {
        let answer = Reply::HelloReply(hello(shared, core));
        out.unanswered.fetch_add(1, Ordering::SeqCst);
        return reply(out, encoder, id, &answer);
    }
    record(shared, core, out, &request);
    let mut drop_next = lock(&shared.drop_next);
    if *drop_next == Some(request.message_type()) {
        *drop_next = None;
        let _ = lock(&out.stream).shutdown(Shutdown::Both);
        return;
    }
    drop(drop_next);
    if let Request::Ping(ping) = request {
        return reply(out, encoder, id, &Reply::Pong(Pong { nonce: ping.nonce }));
    }
    let is_append = matches!(
        request.message_type(),
        MessageType::Append | MessageType::AppendBatch | MessageType::ConditionalAppend
    );
    let read = if let Request::Read(read) = &request {
        Some(read.clone())
    } else {
        None
    };
    let outcome = lock(&shared.store).apply(request);
    shared.grew.notify_all();
    match outcome {
        Outcome::Reply(answer) => {
            let mut frame = Vec::new();
            if encoder.encode(&answer, id, &mut frame).is_err() {
                return;
            }
            if is_append && let Some(held) = lock(&shared.hold).as_mut() {
                held.push(Held {
                    conn: Arc::clone(out),
                    frame,
                });
                return;
            }
            out.send(&frame);
        }
        Outcome::AtTail => {
            let (shared, out, encoder) = (Arc::clone(shared), Arc::clone(out), *encoder);
            let Some(read) = read else { return };
            thread::spawn(move || long_poll(&shared, &out, &encoder, id, &read));
        }
    }
}

/// Waits for the segment to grow (or be sealed) up to the read's wait.
fn long_poll(
    shared: &Shared,
    out: &ConnOut,
    encoder: &FrameEncoder,
    id: u64,
    read: &spate_wire::Read,
) {
    let deadline = Instant::now() + Duration::from_millis(u64::from(read.wait_ms));
    let mut store = lock(&shared.store);
    loop {
        if let Outcome::Reply(answer) = store.apply(Request::Read(read.clone())) {
            drop(store);
            return reply(out, encoder, id, &answer);
        }
        let now = Instant::now();
        if now >= deadline {
            let answer = store.empty_read(read);
            drop(store);
            return reply(out, encoder, id, &answer);
        }
        store = match shared.grew.wait_timeout(store, deadline - now) {
            Ok((store, _)) => store,
            Err(poison) => poison.into_inner().0,
        };
    }
}

fn record(shared: &Shared, core: u16, out: &ConnOut, request: &Request) {
    let unanswered = out.unanswered.fetch_add(1, Ordering::SeqCst) + 1;
    let mut stats = lock(&shared.stats);
    stats.max_unanswered = stats.max_unanswered.max(unanswered);
    *stats
        .frames
        .entry((core, request.message_type()))
        .or_default() += 1;
    if let Some(segment) = request.segment() {
        stats
            .segments
            .entry(core)
            .or_default()
            .insert(segment.to_string());
    }
}

fn hello(shared: &Shared, core: u16) -> HelloReply {
    let options = shared.options;
    HelloReply {
        version: 1,
        min_version: 1,
        max_version: 1,
        node_id: 0x5eed,
        core_count: options.cores,
        core,
        container_cores: (0..options.containers).map(|c| c % options.cores).collect(),
        core_ports: lock(&shared.ports).clone(),
        limits: options.limits,
    }
}
