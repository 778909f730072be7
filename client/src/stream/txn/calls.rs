//! The transaction requests. Like every stream request each goes to the
//! core owning the stream's log. All are resent after a broken connection:
//! ping, commit, abort and state are idempotent on the node, and a begin
//! sent twice leaves at most an empty transaction that its lease ends.

use spate_wire::{
    AbortTxn, BeginTxn, CommitTxn, GetTxnState, PingTxn, Reply, Request, TxnBegun, TxnStatus,
};

use super::super::{StreamName, StreamOutcome};
use crate::client::{Client, Safety};
use crate::completion::Completion;
use crate::error::{ClientError, unexpected};

/// Begins a transaction with a lease of `lease_ms`.
pub(super) fn begin(
    client: &Client,
    stream: &StreamName,
    lease_ms: u64,
) -> Completion<StreamOutcome<TxnBegun>> {
    let request = Request::BeginTxn(BeginTxn {
        scope: stream.scope.clone(),
        stream: stream.stream.clone(),
        lease_ms,
    });
    client.stream_call_with(request, Safety::Idempotent, |reply| match reply {
        Reply::TxnBegun(begun) => Ok(StreamOutcome::Done(begun)),
        Reply::NoSuchStream(_) => Ok(StreamOutcome::NoSuchStream),
        other => Err(unexpected("BeginTxn", &other)),
    })
}

/// Renews transaction `id`'s lease for another `lease_ms`.
pub(super) fn ping(
    client: &Client,
    stream: &StreamName,
    id: u64,
    lease_ms: u64,
) -> Completion<StreamOutcome<TxnStatus>> {
    let request = Request::PingTxn(PingTxn {
        scope: stream.scope.clone(),
        stream: stream.stream.clone(),
        id,
        lease_ms,
    });
    status_call(client, request, "PingTxn", id)
}

/// Commits transaction `id`; answered once the commit is durable.
pub(super) fn commit(
    client: &Client,
    stream: &StreamName,
    id: u64,
) -> Completion<StreamOutcome<TxnStatus>> {
    let request = Request::CommitTxn(CommitTxn {
        scope: stream.scope.clone(),
        stream: stream.stream.clone(),
        id,
    });
    status_call(client, request, "CommitTxn", id)
}

/// Aborts transaction `id`.
pub(super) fn abort(
    client: &Client,
    stream: &StreamName,
    id: u64,
) -> Completion<StreamOutcome<TxnStatus>> {
    let request = Request::AbortTxn(AbortTxn {
        scope: stream.scope.clone(),
        stream: stream.stream.clone(),
        id,
    });
    status_call(client, request, "AbortTxn", id)
}

/// Asks where transaction `id` is.
pub(super) fn state(
    client: &Client,
    stream: &StreamName,
    id: u64,
) -> Completion<StreamOutcome<TxnStatus>> {
    let request = Request::GetTxnState(GetTxnState {
        scope: stream.scope.clone(),
        stream: stream.stream.clone(),
        id,
    });
    status_call(client, request, "GetTxnState", id)
}

/// A request answered by `TxnState` about transaction `id`.
fn status_call(
    client: &Client,
    request: Request,
    what: &'static str,
    id: u64,
) -> Completion<StreamOutcome<TxnStatus>> {
    client.stream_call_with(request, Safety::Idempotent, move |reply| match reply {
        Reply::TxnState(state) if state.id == id => Ok(StreamOutcome::Done(state.status)),
        Reply::TxnState(state) => Err(ClientError::protocol(format_args!(
            "answered {what} about transaction {id:016x} with the state of {:016x}",
            state.id
        ))),
        Reply::NoSuchStream(_) => Ok(StreamOutcome::NoSuchStream),
        other => Err(unexpected(what, &other)),
    })
}
