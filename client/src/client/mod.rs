//! The [`Client`]: one per node. It knows the node's topology and keeps one
//! connection per core, opened lazily and reopened after a failure, so each
//! segment's traffic goes straight to the core that owns it.

mod admin;
mod call;
mod compact;
mod read_once;

pub use admin::{
    AttributeOutcome, CreateOutcome, DeleteOutcome, InfoOutcome, MergeOutcome, SealOutcome,
    SegmentInfo, TruncateOutcome, UpdateOutcome, WriterStateOutcome,
};
pub(crate) use call::{Call, Route, Safety};

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, RwLock};

use crate::conn::Connection;
use crate::error::{ClientError, check_name};
use crate::options::ClientOptions;
use crate::reader::SegmentReader;
use crate::retrier::Retrier;
use crate::sync::lock;
use crate::topology::Topology;
use crate::writer::SegmentWriter;

/// A handle to one Spate node. Cheap to clone; every clone shares the
/// connections. Dropping every clone (and every writer and reader made from
/// them) closes the connections; calls still in progress then fail.
///
/// Calls return a [`crate::Completion`]: await it on any executor, or
/// `.wait()` for it. Creating a call may block the calling thread briefly:
/// the first time a core is used (to connect to it), and while that
/// connection is at the node's in-flight bounds (backpressure).
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<ClientInner>,
}

/// A core's connection, if open; its lock is held while (re)connecting so
/// that callers for one core wait for one connect instead of racing.
type Slot = Arc<Mutex<Option<Arc<Connection>>>>;

pub(crate) struct ClientInner {
    pub(crate) options: ClientOptions,
    /// Every core listens on the bootstrap address's host.
    host: IpAddr,
    bootstrap_core: u16,
    topology: RwLock<Arc<Topology>>,
    slots: Mutex<HashMap<u16, Slot>>,
    pub(crate) retrier: Arc<Retrier>,
}

impl Client {
    /// Connects to a node at `addr` (any of its cores) and learns its
    /// topology from the handshake. One attempt per resolved address: the
    /// caller decides whether to retry a node that is not up.
    pub fn connect(
        addr: impl ToSocketAddrs,
        options: ClientOptions,
    ) -> Result<Client, ClientError> {
        let addrs: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|e| ClientError::invalid(format!("resolving the node address: {e}")))?
            .collect();
        let mut last_error = ClientError::invalid("the node address resolved to nothing");
        for addr in addrs {
            match Connection::open(addr, &options) {
                Ok(conn) => return Client::with_bootstrap(addr, conn, options),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    fn with_bootstrap(
        addr: SocketAddr,
        conn: Arc<Connection>,
        options: ClientOptions,
    ) -> Result<Client, ClientError> {
        let retrier = Retrier::start().inspect_err(|_| conn.close())?;
        let core = conn.core();
        let topology = Arc::new(conn.topology().clone());
        let slots = HashMap::from([(core, Arc::new(Mutex::new(Some(conn))))]);
        Ok(Client {
            inner: Arc::new(ClientInner {
                options,
                host: addr.ip(),
                bootstrap_core: core,
                topology: RwLock::new(topology),
                slots: Mutex::new(slots),
                retrier: Arc::new(retrier),
            }),
        })
    }

    /// The node's topology, as its latest handshake told it.
    pub fn topology(&self) -> Arc<Topology> {
        self.inner.topology()
    }

    /// A writer appending to `segment` as `writer_id`. It first asks the
    /// node for the writer's last event number, so numbering (and with it
    /// deduplication) resumes where a previous writer with this id stopped.
    /// One writer per id and segment at a time.
    ///
    /// Fails with `InvalidRequest` if the segment does not exist.
    pub fn segment_writer(
        &self,
        segment: &str,
        writer_id: u128,
    ) -> Result<SegmentWriter, ClientError> {
        SegmentWriter::open(self, segment, writer_id)
    }

    /// A reader of `segment` from `start_offset`, fetching ahead of the
    /// application and long-polling at the tail.
    pub fn segment_reader(
        &self,
        segment: &str,
        start_offset: u64,
    ) -> Result<SegmentReader, ClientError> {
        check_name(segment)?;
        Ok(SegmentReader::new(&self.inner, segment, start_offset))
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let topology = self.inner.topology();
        f.debug_struct("Client")
            .field("host", &self.inner.host)
            .field("node_id", &topology.node_id)
            .field("cores", &topology.core_count())
            .finish()
    }
}

impl ClientInner {
    pub(crate) fn topology(&self) -> Arc<Topology> {
        Arc::clone(&self.topology.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The live connection to the core that owns `segment`, opening one if
    /// needed (blocking; callers are application threads or the retrier).
    pub(crate) fn connection_for(&self, segment: &str) -> Result<Arc<Connection>, ClientError> {
        let core = self.topology().core_for(segment);
        self.connection_to(core)
    }

    /// The live connection for a call's route.
    pub(crate) fn connection_for_route(
        &self,
        route: &Route,
    ) -> Result<Arc<Connection>, ClientError> {
        match route {
            Route::Segment(segment) => self.connection_for(segment),
            Route::Bootstrap => self.connection_to(self.bootstrap_core),
            Route::Core(core) => self.connection_to(*core),
        }
    }

    fn connection_to(&self, core: u16) -> Result<Arc<Connection>, ClientError> {
        let slot = Arc::clone(lock(&self.slots).entry(core).or_default());
        let mut slot = lock(&slot);
        if let Some(conn) = slot.as_ref().filter(|conn| !conn.is_broken()) {
            return Ok(Arc::clone(conn));
        }
        let port = self
            .topology()
            .port_of(core)
            .ok_or_else(|| ClientError::fatal(format!("the node has no core {core}")))?;
        let options = &self.options;
        let conn = Connection::open(SocketAddr::new(self.host, port), options)?;
        self.learn(conn.topology());
        *slot = Some(Arc::clone(&conn));
        Ok(conn)
    }

    /// Adopts the topology a newer handshake reported (the node may have
    /// restarted with other ports); routing follows it from now on. A stale
    /// route is not an error: any core serves any segment, one hop slower.
    fn learn(&self, seen: &Topology) {
        let mut topology = self.topology.write().unwrap_or_else(|e| e.into_inner());
        if **topology != *seen {
            *topology = Arc::new(seen.clone());
        }
    }
}

impl Drop for ClientInner {
    fn drop(&mut self) {
        self.retrier.close();
        let slots: Vec<Slot> = lock(&self.slots).drain().map(|(_, slot)| slot).collect();
        for slot in slots {
            // Taken out first: closing calls waiters, which must not find
            // this slot locked.
            let conn = lock(&slot).take();
            if let Some(conn) = conn {
                conn.close();
            }
        }
    }
}
