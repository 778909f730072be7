//! The writer role against a stand-in node on a real socket: inline sends
//! while idle, the hand-off to the writer thread when the socket is full
//! (bytes in order, nothing lost), frame sources' turns, and many threads
//! sending through one connection without their bytes interleaving.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use spate_wire::{
    ABSOLUTE_MAX_FRAME_BYTES, Append, Decoded, FrameDecoder, FrameEncoder, HelloReply, Limits,
    Ping, Pong, Reply, Request,
};

use super::*;

/// A hang guard, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(20);

/// The node's end of the socket: request frames in, replies out.
struct Peer {
    stream: TcpStream,
    decoder: FrameDecoder,
    encoder: FrameEncoder,
    buf: Vec<u8>,
    ready: VecDeque<(u64, Request)>,
    /// A pause after each read: a slow node, so that the socket fills.
    pace: Duration,
}

impl Peer {
    /// The next request frame; panics if the bytes do not decode (two
    /// writers' bytes interleaved, say) or the client closed.
    fn next(&mut self) -> (u64, Request) {
        loop {
            if let Some(frame) = self.ready.pop_front() {
                return frame;
            }
            let n = match self.stream.read(&mut self.buf) {
                Ok(0) => panic!("the client closed the connection"),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => panic!("reading: {e}"),
            };
            thread::sleep(self.pace);
            let mut input = &self.buf[..n];
            while !input.is_empty() {
                let step = self.decoder.decode(input).expect("a well-formed frame");
                let consumed = step.consumed;
                if let Decoded::Frame(frame) = step.decoded {
                    let id = frame.header.request_id;
                    let request = frame
                        .request()
                        .and_then(|r| r.to_request())
                        .expect("a valid request");
                    self.ready.push_back((id, request));
                }
                input = &input[consumed..];
            }
        }
    }

    fn answer(&mut self, id: u64, reply: &Reply) {
        let mut frame = Vec::new();
        self.encoder.encode(reply, id, &mut frame).expect("encodes");
        self.stream.write_all(&frame).expect("replies");
    }
}

/// A connection to a stand-in node with `limits`, and the node's end.
fn connect(limits: Limits) -> (Arc<Connection>, Peer) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
    let addr: SocketAddr = listener.local_addr().expect("an address");
    let node = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accepts");
        let mut peer = Peer {
            stream,
            decoder: FrameDecoder::new(ABSOLUTE_MAX_FRAME_BYTES),
            encoder: FrameEncoder::new(limits.max_frame_bytes),
            buf: vec![0; 64 * 1024],
            ready: VecDeque::new(),
            pace: Duration::ZERO,
        };
        let (id, hello) = peer.next();
        assert!(matches!(hello, Request::Hello(_)), "{hello:?}");
        let reply = Reply::HelloReply(HelloReply {
            version: 1,
            min_version: 1,
            max_version: 1,
            node_id: 1,
            core_count: 1,
            core: 0,
            container_cores: vec![0; 4],
            core_ports: vec![addr.port()],
            limits,
        });
        peer.answer(id, &reply);
        peer
    });
    let options = ClientOptions {
        connect_timeout: PATIENCE,
        handshake_timeout: PATIENCE,
        ..ClientOptions::default()
    };
    let conn = Connection::open(addr, &options).expect("connects");
    (conn, node.join().expect("the node greeted"))
}

/// Replies and losses seen by [`Count`] waiters.
#[derive(Default)]
struct Tally {
    replies: AtomicUsize,
    lost: AtomicUsize,
}

struct Count(Arc<Tally>);

impl Waiter for Count {
    fn on_reply(self: Box<Self>, reply: Result<Reply, ClientError>, _conn: &Arc<Connection>) {
        assert!(reply.is_ok(), "{reply:?}");
        self.0.replies.fetch_add(1, Ordering::SeqCst);
    }

    fn on_lost(self: Box<Self>, _error: ClientError) {
        self.0.lost.fetch_add(1, Ordering::SeqCst);
    }
}

fn count(tally: &Arc<Tally>) -> Box<dyn Waiter> {
    Box::new(Count(Arc::clone(tally)))
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `f` on a thread of its own and fails (instead of hanging) if it
/// does not return in time: for calls that must never block.
fn returns_soon<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("{what} blocked"))
}

/// A payload whose every byte depends on who sent it and where it is.
fn payload(writer: u128, number: i64, len: usize) -> Vec<u8> {
    let seed = (writer as usize).wrapping_mul(131) ^ (number as usize).wrapping_mul(31);
    (0..len)
        .map(|i| (seed.wrapping_add(i * 7) % 251) as u8)
        .collect()
}

fn append(writer: u128, number: i64, len: usize) -> Append {
    Append {
        segment: format!("t/{writer}"),
        writer_id: writer,
        event_number: number,
        payload: payload(writer, number, len),
    }
}

fn inline_sends(conn: &Connection) -> (usize, usize) {
    lock(&conn.state).inline_sends
}

#[test]
fn a_request_sent_while_the_writer_is_idle_goes_out_inline() {
    let (conn, mut peer) = connect(Limits::default());
    let tally = Arc::new(Tally::default());
    for nonce in 0..50 {
        conn.send(&Ping { nonce }, count(&tally))
            .unwrap_or_else(|_| panic!("admitted"));
        let (id, request) = peer.next();
        assert!(matches!(request, Request::Ping(Ping { nonce: n }) if n == nonce));
        peer.answer(id, &Reply::Pong(Pong { nonce }));
        wait_until("the pong arrives", || {
            tally.replies.load(Ordering::SeqCst) == nonce as usize + 1
        });
    }
    assert_eq!(
        inline_sends(&conn),
        (50, 0),
        "every ping left inline, whole"
    );
    conn.close();
}

#[test]
fn a_full_socket_hands_the_rest_to_the_writer_thread_in_order() {
    const FRAMES: i64 = 24;
    const LEN: usize = 1024 * 1024;
    let (conn, mut peer) = connect(Limits::default());
    let tally = Arc::new(Tally::default());
    // The node reads nothing yet: 24 MiB cannot fit the socket's buffers,
    // yet no send may block.
    let sender = Arc::clone(&conn);
    let for_sender = Arc::clone(&tally);
    returns_soon("sending into a full socket", move || {
        for number in 0..FRAMES {
            let sent = sender.send(&append(1, number, LEN), count(&for_sender));
            assert!(sent.is_ok(), "admitted");
        }
        let sent = sender.send(&Ping { nonce: 99 }, count(&for_sender));
        assert!(sent.is_ok(), "admitted");
    });
    let (whole, handed_off) = inline_sends(&conn);
    assert!(handed_off >= 1, "the socket filled up: {whole} whole");
    wait_until("the writer thread takes over", || lock(&conn.state).writing);
    // Every frame arrives whole, in the order sent, and the ping last.
    let mut last_id = 0;
    for number in 0..FRAMES {
        let (id, request) = peer.next();
        assert!(id > last_id, "request ids in order");
        last_id = id;
        match request {
            Request::Append(got) => assert!(got == append(1, number, LEN), "frame {number}"),
            other => panic!("expected append {number}, got {other:?}"),
        }
        peer.answer(id, &Reply::Pong(Pong { nonce: 0 }));
    }
    let (id, request) = peer.next();
    assert!(matches!(request, Request::Ping(Ping { nonce: 99 })));
    peer.answer(id, &Reply::Pong(Pong { nonce: 99 }));
    wait_until("every reply arrives", || {
        tally.replies.load(Ordering::SeqCst) == FRAMES as usize + 1
    });
    // Idle again: the next request leaves inline.
    let before = inline_sends(&conn);
    assert!(conn.send(&Ping { nonce: 100 }, count(&tally)).is_ok());
    let (id, _) = peer.next();
    peer.answer(id, &Reply::Pong(Pong { nonce: 100 }));
    assert_eq!(inline_sends(&conn), (before.0 + 1, before.1));
    assert_eq!(tally.lost.load(Ordering::SeqCst), 0);
    conn.close();
}

/// A frame source that sends `frames` appends of `len` bytes as writer
/// `writer`, and notes the thread that built them. It first sends a ping
/// with the writer as nonce, which the role being taken queues behind.
struct Burst {
    writer: u128,
    frames: i64,
    len: usize,
    tally: Arc<Tally>,
    built_on: Mutex<Option<ThreadId>>,
}

impl FrameSource for Burst {
    fn write_frames(self: Arc<Self>, conn: &Arc<Connection>, out: &mut Vec<u8>) {
        *lock(&self.built_on) = Some(thread::current().id());
        let ping = Ping {
            nonce: self.writer as u64,
        };
        assert!(conn.try_send(&ping, count(&self.tally)).is_ok(), "queued");
        for number in 0..self.frames {
            let id = conn.next_id();
            let msg = append(self.writer, number, self.len);
            let len = conn.encode(&msg, id, out).expect("encodes");
            let registered = conn.try_register(id, len, count(&self.tally));
            assert!(registered.is_ok(), "room for the burst");
        }
    }

    fn on_connection_failed(self: Arc<Self>, _conn: &Connection, error: ClientError) {
        panic!("the connection failed: {error}");
    }
}

#[test]
fn a_frame_source_builds_on_the_scheduling_thread_and_the_writer_thread_finishes() {
    const LEN: usize = 1024 * 1024;
    let (conn, mut peer) = connect(Limits::default());
    let tally = Arc::new(Tally::default());
    let burst = |writer| {
        Arc::new(Burst {
            writer,
            frames: 12,
            len: LEN,
            tally: Arc::clone(&tally),
            built_on: Mutex::new(None),
        })
    };
    let (first, second) = (burst(1), burst(2));
    let scheduler = Arc::clone(&conn);
    let (a, b) = (Arc::clone(&first), Arc::clone(&second));
    let scheduled_on = returns_soon("scheduling into a full socket", move || {
        // Idle: the caller gets the turn, builds 12 MiB and sends what fits.
        let turn = scheduler.schedule(a).expect("scheduled");
        turn.expect("the writer was idle: a turn").run();
        // The writer thread now owns the rest: the next source queues.
        let turn = scheduler.schedule(b).expect("scheduled");
        assert!(turn.is_none(), "the role is taken");
        thread::current().id()
    });
    assert_eq!(*lock(&first.built_on), Some(scheduled_on));
    assert_eq!(
        inline_sends(&conn).1,
        1,
        "the rest went to the writer thread"
    );
    // Each burst whole, then the ping queued while it was being built.
    for writer in [1, 2] {
        for number in 0..12 {
            let (id, request) = peer.next();
            match request {
                Request::Append(got) => {
                    assert!(got == append(writer, number, LEN), "{writer}/{number}")
                }
                other => panic!("expected append {writer}/{number}, got {other:?}"),
            }
            peer.answer(id, &Reply::Pong(Pong { nonce: 0 }));
        }
        let (id, request) = peer.next();
        assert!(
            matches!(request, Request::Ping(Ping { nonce }) if u128::from(nonce) == writer),
            "{request:?}"
        );
        peer.answer(id, &Reply::Pong(Pong { nonce: 0 }));
    }
    let built = lock(&second.built_on).expect("built");
    assert_ne!(
        built, scheduled_on,
        "queued sources build on the writer thread"
    );
    wait_until("every reply arrives", || {
        tally.replies.load(Ordering::SeqCst) == 26
    });
    conn.close();
}

#[test]
fn many_threads_sending_at_once_never_interleave_their_bytes() {
    const THREADS: u128 = 8;
    const REQUESTS: i64 = 400;
    let (conn, mut peer) = connect(Limits::default());
    let tally = Arc::new(Tally::default());
    // The node answers every request and checks each writer's order. It
    // reads slowly, so that the socket fills now and then and the senders
    // meet a writer thread that is blocked on it halfway through a write.
    peer.pace = Duration::from_micros(500);
    let node = thread::spawn(move || {
        let mut next = [0i64; THREADS as usize];
        for _ in 0..THREADS as i64 * REQUESTS {
            let (id, request) = peer.next();
            let Request::Append(got) = request else {
                panic!("expected an append, got {request:?}");
            };
            let writer = got.writer_id;
            let number = got.event_number;
            assert_eq!(number, next[writer as usize], "writer {writer} in order");
            assert!(
                got == append(writer, number, got.payload.len()),
                "{writer}/{number} intact"
            );
            next[writer as usize] += 1;
            peer.answer(id, &Reply::Pong(Pong { nonce: 0 }));
        }
        peer
    });
    let senders: Vec<_> = (0..THREADS)
        .map(|writer| {
            let (conn, tally) = (Arc::clone(&conn), Arc::clone(&tally));
            thread::spawn(move || {
                for number in 0..REQUESTS {
                    // Small and large frames; now and then wait for the
                    // replies so that the writer goes idle again.
                    let len = if number % 10 == 7 { 128 * 1024 } else { 100 };
                    let sent = conn.send(&append(writer, number, len), count(&tally));
                    assert!(sent.is_ok(), "admitted");
                    if number % 16 == 0 {
                        thread::sleep(Duration::from_micros(200));
                    }
                }
            })
        })
        .collect();
    for sender in senders {
        sender.join().expect("the sender finished");
    }
    let _peer = node.join().expect("the node saw every request in order");
    let total = (THREADS as i64 * REQUESTS) as usize;
    wait_until("every reply arrives", || {
        tally.replies.load(Ordering::SeqCst) == total
    });
    let (whole, handed_off) = inline_sends(&conn);
    assert!(
        whole > 0,
        "some requests left inline ({handed_off} handed off)"
    );
    assert_eq!(tally.lost.load(Ordering::SeqCst), 0);
    conn.close();
}

/// A frame source that builds one ping, and notes what happened to it.
#[derive(Default)]
struct Note {
    built_on: Mutex<Option<ThreadId>>,
    failed: Mutex<Option<ClientError>>,
    tally: Arc<Tally>,
}

impl FrameSource for Note {
    fn write_frames(self: Arc<Self>, conn: &Arc<Connection>, out: &mut Vec<u8>) {
        *lock(&self.built_on) = Some(thread::current().id());
        let id = conn.next_id();
        let len = conn.encode(&Ping { nonce: 7 }, id, out).expect("encodes");
        let registered = conn.try_register(id, len, count(&self.tally));
        assert!(registered.is_ok(), "room for a ping");
    }

    fn on_connection_failed(self: Arc<Self>, _conn: &Connection, error: ClientError) {
        *lock(&self.failed) = Some(error);
    }
}

#[test]
fn a_turn_on_a_connection_that_broke_meanwhile_tells_its_source() {
    let (conn, _peer) = connect(Limits::default());
    let note = Arc::new(Note::default());
    let turn = conn.schedule(Arc::clone(&note) as Arc<dyn FrameSource>);
    let turn = turn
        .expect("scheduled")
        .expect("the writer was idle: a turn");
    conn.fail(ClientError::retryable("broken for the test"));
    turn.run();
    assert!(
        lock(&note.built_on).is_none(),
        "nothing built for a broken connection"
    );
    assert!(
        lock(&note.failed).is_some(),
        "the source learnt of the failure"
    );
    assert!(!lock(&conn.state).writing, "the role was given back");
}

#[test]
fn a_turn_dropped_without_running_goes_to_the_writer_thread() {
    let (conn, mut peer) = connect(Limits::default());
    let note = Arc::new(Note::default());
    let turn = conn.schedule(Arc::clone(&note) as Arc<dyn FrameSource>);
    drop(
        turn.expect("scheduled")
            .expect("the writer was idle: a turn"),
    );
    let (id, request) = peer.next();
    assert!(matches!(request, Request::Ping(Ping { nonce: 7 })));
    peer.answer(id, &Reply::Pong(Pong { nonce: 7 }));
    wait_until("the pong arrives", || {
        note.tally.replies.load(Ordering::SeqCst) == 1
    });
    let built = lock(&note.built_on).expect("built");
    assert_ne!(built, thread::current().id(), "built on the writer thread");
    conn.close();
}

#[test]
fn an_inline_send_that_fails_fails_the_connection() {
    let (conn, _peer) = connect(Limits::default());
    let tally = Arc::new(Tally::default());
    // Writes fail from now on (EPIPE); the reader is untouched.
    conn.stream.shutdown(Shutdown::Write).expect("shuts down");
    assert!(conn.send(&Ping { nonce: 1 }, count(&tally)).is_ok());
    // The send was inline (the writer was idle): it failed the connection
    // before returning, and the ping's waiter learnt of it.
    let error = lock(&conn.state).broken.clone().expect("broken");
    assert!(error.to_string().contains("writing"), "{error}");
    assert_eq!(tally.lost.load(Ordering::SeqCst), 1);
    assert!(!lock(&conn.state).writing, "nobody keeps the role");
    assert!(conn.send(&Ping { nonce: 2 }, count(&tally)).is_err());
    conn.close();
}
