//! Completing a read whose data was evicted from the read cache: the pieces
//! the container names are read back from the journal files, checked (record
//! header, LSN, file sequence, CRC), or from hot chunk files (each chunk
//! whole, checked against its CRC), and stitched into the reply.
//!
//! Neighbouring pieces of one file are read together, so catching up on an
//! evicted segment takes a few large reads rather than one per append.

use std::cell::RefCell;
use std::rc::Rc;

use spate_journal::readback::{aligned_span, payload_at};
use spate_wire::{ErrorReply, ReadData, Reply, RetryAdvice, StatusCode};

use super::core::CoreState;
use crate::container::{HotData, JournalData, Piece, ReadPlan};

/// Pieces further apart than this in a file are read separately.
const MAX_GAP_BYTES: u64 = 256 << 10;
/// The largest single read.
const MAX_SPAN_BYTES: u64 = 16 << 20;

/// One aligned read covering journal pieces `first..end` of a plan.
struct Span {
    file_seq: u64,
    offset: u64,
    end: u64,
    first: usize,
    last: usize,
}

/// Builds the reply of `plan`, reading its journal pieces back.
pub async fn load(state: &Rc<RefCell<CoreState>>, plan: ReadPlan, max_record: u32) -> Reply {
    let mut loaded: Vec<Option<Vec<u8>>> = vec![None; plan.pieces.len()];
    for (i, piece) in plan.pieces.iter().enumerate() {
        if let Piece::Journal { at, start, len } = piece
            && let Some(payload) = state.borrow().recent_record(at.location.lsn)
        {
            match payload.get(*start as usize..(*start + *len) as usize) {
                Some(data) => loaded[i] = Some(data.to_vec()),
                None => return short_record(at),
            }
        }
    }
    for (i, piece) in plan.pieces.iter().enumerate() {
        let Piece::Hot { at, start, len } = piece else {
            continue;
        };
        let chunk = match hot_chunk(state, *at).await {
            Ok(chunk) => chunk,
            Err(reply) => return reply,
        };
        match chunk.get(*start as usize..(*start + *len) as usize) {
            Some(data) => loaded[i] = Some(data.to_vec()),
            None => {
                return failed(format!(
                    "hot chunk in file {} is shorter than its reference",
                    at.file
                ));
            }
        }
    }
    let spans = spans(&plan.pieces, &loaded);
    let reader = state.borrow().journal_reader();
    for span in spans {
        let Some(slot) = state.borrow().journal_slot(span.file_seq) else {
            return failed(format!(
                "journal file seq {} no longer holds this data (released meanwhile); retry",
                span.file_seq
            ));
        };
        let len = (span.end - span.offset) as usize;
        let bytes = match reader.read(slot, span.offset, len).await {
            Ok(bytes) => {
                state
                    .borrow()
                    .metrics()
                    .readback_bytes
                    .add(bytes.len() as u64);
                bytes
            }
            Err(e) => {
                tracing::error!(slot, offset = span.offset, %e, "reading the journal back failed");
                return failed(format!("reading journal file seq {}: {e}", span.file_seq));
            }
        };
        for (i, piece) in plan
            .pieces
            .iter()
            .enumerate()
            .take(span.last + 1)
            .skip(span.first)
        {
            let Piece::Journal { at, start, len } = piece else {
                continue;
            };
            if loaded[i].is_some() {
                continue;
            }
            match payload_at(&bytes, span.offset, at.location, max_record) {
                Ok(payload) => {
                    let range = *start as usize..(*start + *len) as usize;
                    let Some(data) = payload.get(range) else {
                        return short_record(at);
                    };
                    loaded[i] = Some(data.to_vec());
                    state
                        .borrow_mut()
                        .keep_recent_record(at.location.lsn, Rc::from(payload));
                }
                Err(e) => {
                    tracing::error!(%e, "journal data read back is damaged");
                    return failed(format!("acknowledged data is damaged on disk: {e}"));
                }
            }
        }
    }
    let mut data = Vec::with_capacity(plan.pieces.iter().map(Piece::len).sum::<u64>() as usize);
    for (piece, loaded) in plan.pieces.iter().zip(loaded) {
        match (piece, loaded) {
            (Piece::Memory(bytes), _) => data.extend_from_slice(bytes),
            (Piece::Journal { .. } | Piece::Hot { .. }, Some(bytes)) => {
                data.extend_from_slice(&bytes)
            }
            (Piece::Journal { .. }, None) => unreachable!("every journal piece lies in a span"),
            (Piece::Hot { .. }, None) => unreachable!("every hot piece was read above"),
        }
    }
    state.borrow().metrics().readbacks.add(1);
    Reply::ReadData(ReadData {
        offset: plan.offset,
        data,
        end_of_segment: plan.end_of_segment,
        length: plan.length,
    })
}

/// The bytes of hot chunk `at`: kept from a recent read, or read whole and
/// checked.
async fn hot_chunk(state: &Rc<RefCell<CoreState>>, at: HotData) -> Result<Rc<[u8]>, Reply> {
    if let Some(chunk) = state.borrow().recent_hot(at) {
        return Ok(chunk);
    }
    let Some(files) = state.borrow().hot_files() else {
        return Err(failed("this core has no hot chunk files".into()));
    };
    match files.read(at).await {
        Ok(bytes) => {
            let state = &mut state.borrow_mut();
            state.metrics().readback_bytes.add(bytes.len() as u64);
            let chunk: Rc<[u8]> = Rc::from(bytes);
            state.keep_recent_hot(at, chunk.clone());
            Ok(chunk)
        }
        Err(e) => {
            tracing::error!(%e, "reading a hot chunk back failed");
            Err(failed(format!(
                "acknowledged data could not be read back: {e}"
            )))
        }
    }
}

/// Groups the journal pieces not loaded yet into aligned reads: pieces of
/// one file that lie close together share a read.
fn spans(pieces: &[Piece], loaded: &[Option<Vec<u8>>]) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let Piece::Journal { at, .. } = piece else {
            continue;
        };
        if loaded[i].is_some() {
            continue;
        }
        let (offset, len) = record_span(at);
        let end = offset + len as u64;
        if let Some(span) = spans.last_mut()
            && span.file_seq == at.location.file_seq
            && offset >= span.offset
            && offset <= span.end + MAX_GAP_BYTES
            && end.max(span.end) - span.offset <= MAX_SPAN_BYTES
        {
            span.end = span.end.max(end);
            span.last = i;
            continue;
        }
        spans.push(Span {
            file_seq: at.location.file_seq,
            offset,
            end,
            first: i,
            last: i,
        });
    }
    spans
}

fn record_span(at: &JournalData) -> (u64, usize) {
    aligned_span(at.location, at.payload_len)
}

fn short_record(at: &JournalData) -> Reply {
    failed(format!(
        "journal record LSN {} is shorter than the data it should hold",
        at.location.lsn
    ))
}

fn failed(message: String) -> Reply {
    Reply::Error(ErrorReply {
        status: StatusCode::StorageFailed.code(),
        retry: RetryAdvice::Retry,
        message,
    })
}
