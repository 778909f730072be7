//! [`ReaderGroup`]: creating or joining a group, making readers, and what
//! is done to the group as a whole: declaring a reader offline,
//! checkpoints, resets, and a look at who reads what.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use spate_wire::stream::{validate_scope_name, validate_stream_name};

use super::cuts::{checkpoint_of, positions_of, resolve};
use super::reader::EventReader;
use super::state::{GroupState, MAX_PENDING_CHECKPOINTS, Update, check_name};
use super::{Checkpoint, Position, ReaderGroupConfig, reader_group_segment};
use crate::client::{Client, DeleteOutcome};
use crate::completion::{Completion, completion};
use crate::error::ClientError;
use crate::sync::lock;
use crate::synchronizer::StateSynchronizer;

/// Longest a [`ReaderGroup::checkpoint`] future waits for every reader to
/// pass the checkpoint.
pub const CHECKPOINT_WAIT: Duration = Duration::from_secs(600);

/// A handle on a reader group. Cheap to clone; thread-safe.
#[derive(Clone)]
pub struct ReaderGroup {
    inner: Arc<GroupInner>,
}

struct GroupInner {
    client: Client,
    name: String,
    refresh: Duration,
    sync: Mutex<StateSynchronizer<GroupState>>,
}

/// Who reads what, from the group state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentDistribution {
    /// Each online reader and how many segments it owns.
    pub readers: BTreeMap<String, usize>,
    /// Segments no reader owns now.
    pub unassigned: usize,
    /// Successors waiting for their predecessors to be read.
    pub waiting: usize,
}

impl ReaderGroup {
    /// Creates group `name` in `scope` reading what `config` says, or joins
    /// it if it exists (its configuration then stays as it is; use
    /// [`ReaderGroup::reset`] to change it).
    pub fn create(
        client: &Client,
        scope: &str,
        name: &str,
        config: ReaderGroupConfig,
    ) -> Result<ReaderGroup, ClientError> {
        validate_scope_name(scope).map_err(|e| ClientError::invalid(e.to_string()))?;
        validate_stream_name(name)
            .map_err(|e| ClientError::invalid(format!("reader group name: {e}")))?;
        let (bounds, start) = resolve(client, &config)?;
        let mut sync: StateSynchronizer<GroupState> =
            StateSynchronizer::open(client, &reader_group_segment(scope, name))?;
        sync.update(|state| {
            if state.generation == 0 {
                vec![Update::Reset {
                    bounds: bounds.clone(),
                    start: start.clone(),
                }]
            } else {
                Vec::new()
            }
        })?;
        Ok(ReaderGroup {
            inner: Arc::new(GroupInner {
                client: client.clone(),
                name: format!("{scope}/{name}"),
                refresh: config.refresh,
                sync: Mutex::new(sync),
            }),
        })
    }

    /// The group's `scope/name`.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// A new reader in the group. A name still online (a reader that died
    /// without [`ReaderGroup::reader_offline`]) is refused: two readers of
    /// one name would read the same segments twice.
    pub fn reader(&self, name: &str) -> Result<EventReader, ClientError> {
        let segment = lock(&self.inner.sync).segment().to_owned();
        EventReader::join(&self.inner.client, &segment, name, self.inner.refresh)
    }

    /// Declares `reader` gone: its segments go back to the group at
    /// `position` (its last [`EventReader::position`]) or, without one, at
    /// the positions of its last checkpoint or acquisition. Declaring a
    /// live reader offline makes its events readable twice.
    pub fn reader_offline(
        &self,
        reader: &str,
        position: Option<&Position>,
    ) -> Result<(), ClientError> {
        let positions = position.map(|p| p.offsets.clone()).unwrap_or_default();
        lock(&self.inner.sync).update(|state| {
            if state.readers.contains(reader) {
                vec![Update::RemoveReader {
                    reader: reader.to_owned(),
                    positions: positions.clone(),
                }]
            } else {
                Vec::new()
            }
        })
    }

    /// Starts checkpoint `name`: each reader passes it on its next read
    /// (returning [`super::EventRead::Checkpoint`]); see
    /// [`ReaderGroup::checkpoint`] for the result.
    pub fn initiate_checkpoint(&self, name: &str) -> Result<(), ClientError> {
        check_name("checkpoint", name)?;
        lock(&self.inner.sync).try_update(|state| {
            if state.pending.iter().any(|p| p.name == name)
                || state.completed_checkpoint(name).is_some()
            {
                return Err(ClientError::invalid(format!(
                    "checkpoint {name:?} exists already"
                )));
            }
            if state.pending.len() >= MAX_PENDING_CHECKPOINTS {
                return Err(ClientError::retryable(format!(
                    "{MAX_PENDING_CHECKPOINTS} checkpoints are pending already"
                )));
            }
            let update = Update::InitiateCheckpoint {
                name: name.to_owned(),
            };
            Ok((vec![update], ()))
        })
    }

    /// Resolves with checkpoint `name` once every reader online when it
    /// was initiated has passed it (or left). Waits on a thread of its own,
    /// at most [`CHECKPOINT_WAIT`].
    pub fn checkpoint(&self, name: &str) -> Completion<Checkpoint> {
        let (completer, done) = completion();
        let inner = Arc::clone(&self.inner);
        let name = name.to_owned();
        // If the thread cannot start, the dropped completer fails the call.
        let _ = std::thread::Builder::new()
            .name("spate-checkpoint".into())
            .spawn(move || completer.complete(inner.wait_for_checkpoint(&name)));
        done
    }

    /// Restarts the group at the start of `config` (and with its streams
    /// and end cuts). Every reader drops what it owns and acquires anew.
    pub fn reset(&self, config: &ReaderGroupConfig) -> Result<(), ClientError> {
        let (bounds, start) = resolve(&self.inner.client, config)?;
        lock(&self.inner.sync).update(|_| {
            vec![Update::Reset {
                bounds: bounds.clone(),
                start: start.clone(),
            }]
        })
    }

    /// Restarts the group at a checkpoint (same streams and end cuts).
    pub fn reset_to_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), ClientError> {
        let mut sync = lock(&self.inner.sync);
        sync.fetch_updates()?;
        let bounds = sync.state().bounds.clone();
        let start = positions_of(&bounds, &checkpoint.cuts)?;
        sync.update(|_| {
            vec![Update::Reset {
                bounds: bounds.clone(),
                start: start.clone(),
            }]
        })
    }

    /// Who owns how many segments now.
    pub fn distribution(&self) -> Result<SegmentDistribution, ClientError> {
        let mut sync = lock(&self.inner.sync);
        sync.fetch_updates()?;
        let state = sync.state();
        Ok(SegmentDistribution {
            readers: state
                .readers
                .iter()
                .map(|r| (r.clone(), state.owned_by(r).count()))
                .collect(),
            unassigned: state.unassigned.len(),
            waiting: state.future.len(),
        })
    }

    /// Writes a snapshot of the group state and truncates the updates
    /// before it. Readers do this on their own once enough history has
    /// gathered; a call is for operators and tests.
    pub fn compact(&self) -> Result<(), ClientError> {
        let mut sync = lock(&self.inner.sync);
        sync.fetch_updates()?;
        sync.compact()
    }

    /// Deletes the group's state segment. Readers still in the group fail
    /// on their next refresh; create the group again to start over.
    pub fn delete(self) -> Result<(), ClientError> {
        let segment = lock(&self.inner.sync).segment().to_owned();
        match self.inner.client.delete(&segment).wait()? {
            DeleteOutcome::Deleted | DeleteOutcome::NoSuchSegment => Ok(()),
        }
    }

    /// True once nothing is left to read: every segment reached its end
    /// (sealed streams) or its end cut (bounded reads).
    pub fn is_finished(&self) -> Result<bool, ClientError> {
        let mut sync = lock(&self.inner.sync);
        sync.fetch_updates()?;
        Ok(sync.state().live_segments() == 0)
    }
}

impl std::fmt::Debug for ReaderGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderGroup")
            .field("name", &self.inner.name)
            .finish()
    }
}

impl GroupInner {
    fn wait_for_checkpoint(&self, name: &str) -> Result<Checkpoint, ClientError> {
        let deadline = Instant::now() + CHECKPOINT_WAIT;
        loop {
            {
                let mut sync = lock(&self.sync);
                sync.fetch_updates()?;
                let state = sync.state();
                if let Some(positions) = state.completed_checkpoint(name) {
                    return checkpoint_of(name, &state.bounds, positions);
                }
                if !state.pending.iter().any(|p| p.name == name) {
                    return Err(ClientError::invalid(format!(
                        "{}: no checkpoint {name:?} pending or recently completed",
                        self.name
                    )));
                }
            }
            if Instant::now() >= deadline {
                return Err(ClientError::retryable(format!(
                    "{}: checkpoint {name:?} not passed by every reader within {CHECKPOINT_WAIT:?}",
                    self.name
                )));
            }
            std::thread::sleep(self.refresh.min(Duration::from_millis(200)));
        }
    }
}
