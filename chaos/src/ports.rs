//! Fixed loopback ports for the node, chosen once per run so that every
//! restart listens where the clients reconnect.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};

/// A base port with the next `count - 1` ports free right now, below the
/// kernel's ephemeral range (32768 and up by default), so no outgoing
/// connection takes one of them between a kill and the restart. The range
/// differs from the node tests' (20000..30000) and the start depends on the
/// process id, so runs side by side rarely probe the same ports.
pub fn free_ports(count: u16) -> Option<SocketAddr> {
    let count = count.max(1);
    let span = 32_000 - 30_000;
    let start = 30_000 + (std::process::id() % u32::from(span / count)) as u16 * count;
    let base = (start..32_000)
        .chain(30_000..start)
        .step_by(usize::from(count))
        .find(|&base| {
            (0..count).all(|i| TcpListener::bind((Ipv4Addr::LOCALHOST, base + i)).is_ok())
        })?;
    Some(SocketAddr::from((Ipv4Addr::LOCALHOST, base)))
}
