//! How the loop knows the system works again after a restart: every writer
//! logs a new ACKED line. Counting only what its log gained since a mark
//! keeps the polling cheap however long the log grows.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::HarnessError;

/// The length of the complete lines of a log now: later lines start here.
/// A restarted writer may trim a torn line, but never below this mark.
pub fn mark(path: &Path) -> Result<u64, HarnessError> {
    let bytes = read_from(path, 0)?;
    Ok(bytes
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i as u64 + 1))
}

/// Complete ACKED lines written after `mark`.
pub fn acks_since(path: &Path, mark: u64) -> Result<usize, HarnessError> {
    let bytes = read_from(path, mark)?;
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    Ok(bytes[..complete]
        .split(|&b| b == b'\n')
        .filter(|line| line.starts_with(b"ACKED "))
        .count())
}

fn read_from(path: &Path, offset: u64) -> Result<Vec<u8>, HarnessError> {
    let context = || format!("reading {}", path.display());
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(HarnessError::io(context())(error)),
    };
    file.seek(SeekFrom::Start(offset))
        .map_err(HarnessError::io(context()))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(HarnessError::io(context()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_complete_acks_after_the_mark() {
        let dir = std::env::temp_dir().join(format!("spate-chaos-progress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("w.log");
        std::fs::write(&path, "SENT 0 s 0\nACKED 0 s 0\nSENT 0 s 1\nACK").expect("write");
        let at = mark(&path).expect("mark");
        assert_eq!(at, 34);
        std::fs::write(
            &path,
            "SENT 0 s 0\nACKED 0 s 0\nSENT 0 s 1\nACKED 0 s 1\nACKED 0 s",
        )
        .expect("write");
        let count = acks_since(&path, at).expect("count");
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(count, 1);
    }
}
