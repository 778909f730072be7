//! Frame headers that claim more than the node takes: 2 GiB (and 4 GiB) of
//! body, before and after the handshake. Each must get `FrameTooLarge` and a
//! closed connection without the node allocating what was claimed. Also
//! clients that start a legal but large frame and stall halfway: the node
//! may hold only what it received.

use std::time::Duration;

use spate_wire::{HEADER_LEN, MAGIC, MessageType, frame_crc};

use super::{CaseResult, Target, hold};
use crate::overload::budget;
use crate::overload::probe::Probe;
use crate::overload::raw::{RawConn, RawError, reply_name};

/// Connections that send each hostile header.
const HOSTILE_EACH: usize = 50;
/// Clients that stall inside a large frame, and what each sends of it.
const STALLED: usize = 8;
const STALLED_BYTES: usize = 1 << 20;

/// Runs the case.
pub fn run(target: &Target, probe: &Probe) -> CaseResult {
    let mut result = CaseResult::default();
    let claims: [(u32, bool); 4] = [
        (2 << 30, true),
        (2 << 30, false),
        (u32::MAX, true),
        (target.limits().max_frame_bytes, true),
    ];
    let mut refused = 0;
    let mut sent = 0;
    for (claim, handshake) in claims {
        // One byte over the limit, or far over it: both are too large.
        let body_len = if claim == target.limits().max_frame_bytes {
            claim - HEADER_LEN as u32 + 1
        } else {
            claim
        };
        for i in 0..HOSTILE_EACH {
            let addr = target.cores[i % target.cores.len()];
            sent += 1;
            match hostile(addr, body_len, handshake) {
                Ok(answer) => {
                    if answer == "FrameTooLarge (103), then closed" {
                        refused += 1;
                    }
                    result.answers.add(answer);
                }
                Err(e) => result.answers.add(e.outcome()),
            }
        }
    }
    result.did.push(format!(
        "{sent} headers claiming {} to 4 GiB of body ({HOSTILE_EACH} each: 2 GiB with and \
         without a handshake, 4 GiB, one byte over the frame limit)",
        target.limits().max_frame_bytes + 1
    ));
    if refused < sent {
        result.failures.push(format!(
            "{} of {sent} oversized headers were not answered FrameTooLarge and closed",
            sent - refused
        ));
    }
    let mut stalled = Vec::new();
    for i in 0..STALLED {
        match stall_in_frame(
            target.cores[i % target.cores.len()],
            target.limits().max_frame_bytes,
        ) {
            Ok(conn) => stalled.push(conn),
            Err(e) => result
                .answers
                .add(format!("stalled frame: {}", e.outcome())),
        }
    }
    result.did.push(format!(
        "{} clients sent {} KiB of a {} MiB frame and stalled",
        stalled.len(),
        STALLED_BYTES >> 10,
        target.limits().max_frame_bytes >> 20
    ));
    if let Some(failure) = hold(target, probe, || {}) {
        result.failures.push(failure);
    }
    drop(stalled);
    result.bound = budget::connections(STALLED)
        .plus_all(budget::partial_frames(STALLED, STALLED_BYTES as u64));
    result
}

/// Sends a header claiming `body_len` bytes and reports the node's answer
/// and what happened to the connection.
fn hostile(addr: std::net::SocketAddr, body_len: u32, handshake: bool) -> Result<String, RawError> {
    let mut conn = if handshake {
        RawConn::open(addr)?
    } else {
        RawConn::connect(addr)?
    };
    conn.stream()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(RawError::Io)?;
    conn.send_bytes(&header(MessageType::Append, body_len, 99))?;
    let answer = match conn.receive() {
        Ok((_, reply)) => reply_name(&reply),
        Err(e) => return Ok(format!("no answer: {}", e.outcome())),
    };
    // After a framing error the node closes: the next read sees the end.
    let end = match conn.receive() {
        Err(RawError::Closed) | Err(RawError::Reset) => "then closed".to_string(),
        Ok((_, reply)) => format!("then {}", reply_name(&reply)),
        Err(e) => format!("then {}", e.outcome()),
    };
    Ok(format!("{answer}, {end}"))
}

/// Opens a connection, sends the start of a frame of `frame_bytes` bytes
/// and leaves it there.
fn stall_in_frame(addr: std::net::SocketAddr, frame_bytes: u32) -> Result<RawConn, RawError> {
    let mut conn = RawConn::open(addr)?;
    let body_len = frame_bytes - HEADER_LEN as u32;
    conn.send_bytes(&header(MessageType::Append, body_len, 7))?;
    conn.send_bytes(&vec![0x5a; STALLED_BYTES])?;
    Ok(conn)
}

/// A frame header for a body of `body_len` bytes. Its CRC covers no body:
/// the node checks the length first and must never get to the CRC.
fn header(kind: MessageType, body_len: u32, request_id: u64) -> Vec<u8> {
    let mut bytes = [0u8; HEADER_LEN];
    bytes[0..4].copy_from_slice(&MAGIC);
    bytes[4..6].copy_from_slice(&spate_wire::HANDSHAKE_VERSION.to_le_bytes());
    bytes[6..8].copy_from_slice(&kind.code().to_le_bytes());
    bytes[12..16].copy_from_slice(&body_len.to_le_bytes());
    bytes[16..24].copy_from_slice(&request_id.to_le_bytes());
    let crc = frame_crc(&bytes, &[]);
    bytes[24..28].copy_from_slice(&crc.to_le_bytes());
    bytes.to_vec()
}
