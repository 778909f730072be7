//! Test support: a stand-in node, a tiny executor, and polling helpers.
#![allow(dead_code)] // each test binary uses a different part

pub mod server;
pub mod store;

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use spate_client::{Client, ClientOptions, CreateOutcome, RetryPolicy};

pub use server::{ServerOptions, TestServer};

/// The smallest executor there is: poll, park until woken, repeat. Proves
/// the client's futures need nothing but a std `Waker`.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}

/// Polls `condition` until it holds; a hang guard, not a timing assertion.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

/// Options with quick retries, so failure tests stay short.
pub fn quick_options() -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(20),
        },
        connect_timeout: Duration::from_secs(1),
        handshake_timeout: Duration::from_secs(1),
        ..ClientOptions::default()
    }
}

/// A server with default options and a client connected to it.
pub fn start() -> (TestServer, Client) {
    start_with(ServerOptions::default(), quick_options())
}

pub fn start_with(server: ServerOptions, options: ClientOptions) -> (TestServer, Client) {
    let server = TestServer::start(server);
    let client = Client::connect(server.addr(), options).expect("connect");
    (server, client)
}

/// Creates `segment`, which must not exist yet.
pub fn create(client: &Client, segment: &str) {
    assert_eq!(
        client.create_segment(segment).wait(),
        Ok(CreateOutcome::Created)
    );
}

/// A segment name owned by `core` (found by trying names).
pub fn segment_on(client: &Client, core: u16, prefix: &str) -> String {
    let topology = client.topology();
    (0..1000)
        .map(|i| format!("{prefix}/{i}"))
        .find(|name| topology.core_for(name) == core)
        .expect("some name maps to every core")
}
