//! A bounds-checked little-endian cursor for the node's own formats
//! (journal records, checkpoints, stream logs): bytes from disk, so every
//! read checks its bound and a short input is a value, never a panic.

/// A read ran past the end of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ShortRead {
    /// Where the read started.
    pub at: usize,
    /// Bytes it needed.
    pub needed: usize,
    /// Length of the whole input.
    pub len: usize,
}

pub(crate) struct LeReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> LeReader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes read so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], ShortRead> {
        if n > self.remaining() {
            return Err(ShortRead {
                at: self.pos,
                needed: n,
                len: self.buf.len(),
            });
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ShortRead> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, ShortRead> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u32(&mut self) -> Result<u32, ShortRead> {
        self.array().map(u32::from_le_bytes)
    }

    pub fn u64(&mut self) -> Result<u64, ShortRead> {
        self.array().map(u64::from_le_bytes)
    }

    pub fn i64(&mut self) -> Result<i64, ShortRead> {
        self.array().map(i64::from_le_bytes)
    }

    pub fn u128(&mut self) -> Result<u128, ShortRead> {
        self.array().map(u128::from_le_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_and_reports_short_reads() {
        let bytes = [1, 2, 0, 0, 0, 9];
        let mut r = LeReader::new(&bytes);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u32(), Ok(2));
        assert_eq!(r.pos(), 5);
        assert_eq!(
            r.u64(),
            Err(ShortRead {
                at: 5,
                needed: 8,
                len: 6
            })
        );
        assert_eq!(r.remaining(), 1, "a failed read consumes nothing");
        assert_eq!(r.take(1), Ok(&[9][..]));
    }
}
