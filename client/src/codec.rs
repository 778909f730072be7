//! Little-endian field encoding for the records the client keeps in
//! segments (synchronizer records, reader-group state). Decoding is
//! checked: bytes read back from a segment are untrusted, so every short,
//! oversized or malformed field is a typed error naming its byte offset,
//! never a panic.

use crate::error::ClientError;

/// Appends fields to a record body.
#[derive(Debug, Default)]
pub(crate) struct Encoder {
    pub bytes: Vec<u8>,
}

impl Encoder {
    pub fn u8(&mut self, value: u8) {
        self.bytes.push(value);
    }

    pub fn u16(&mut self, value: u16) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub fn u32(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub fn u64(&mut self, value: u64) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    /// A count of items that follow; callers keep their collections under
    /// caps far below `u32::MAX`, so saturating never happens in practice.
    pub fn count(&mut self, count: usize) {
        self.u32(u32::try_from(count).unwrap_or(u32::MAX));
    }

    /// A string as `u16` length then UTF-8 bytes (names are capped far below).
    pub fn str(&mut self, text: &str) {
        let len = u16::try_from(text.len()).unwrap_or(u16::MAX);
        self.u16(len);
        self.bytes
            .extend_from_slice(&text.as_bytes()[..usize::from(len)]);
    }
}

/// Reads fields back, each checked against what is left.
#[derive(Debug)]
pub(crate) struct Decoder<'a> {
    bytes: &'a [u8],
    at: usize,
    what: &'static str,
}

impl<'a> Decoder<'a> {
    /// `what` names the record kind in errors.
    pub fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Decoder { bytes, at: 0, what }
    }

    pub fn error(&self, problem: impl std::fmt::Display) -> ClientError {
        ClientError::protocol(format_args!("{} at byte {}: {problem}", self.what, self.at))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], ClientError> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len());
        let Some(end) = end else {
            return Err(self.error(format_args!("ends inside a {len}-byte field")));
        };
        let field = &self.bytes[self.at..end];
        self.at = end;
        Ok(field)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ClientError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, ClientError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16, ClientError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, ClientError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, ClientError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub fn bool(&mut self) -> Result<bool, ClientError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.error(format_args!("{other} is not a boolean"))),
        }
    }

    /// A count written by [`Encoder::count`], refused above `max` so that a
    /// damaged count cannot make the caller allocate without bound.
    pub fn count(&mut self, max: usize) -> Result<usize, ClientError> {
        let count = self.u32()? as usize;
        if count > max {
            return Err(self.error(format_args!("count {count} is over the cap of {max}")));
        }
        Ok(count)
    }

    /// A string written by [`Encoder::str`], at most `max` bytes.
    pub fn str(&mut self, max: usize) -> Result<String, ClientError> {
        let len = usize::from(self.u16()?);
        if len > max {
            return Err(self.error(format_args!("a {len}-byte string; the cap is {max}")));
        }
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.error("a string is not UTF-8"))
    }

    /// Fails if bytes are left over: a record is exactly its fields.
    pub fn finish(self) -> Result<(), ClientError> {
        if self.at == self.bytes.len() {
            Ok(())
        } else {
            Err(self.error(format_args!(
                "{} bytes left over",
                self.bytes.len() - self.at
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_short_input_is_an_error() {
        let mut out = Encoder::default();
        out.u8(7);
        out.u16(513);
        out.u64(u64::MAX - 1);
        out.str("reader-1");
        out.count(3);
        let mut input = Decoder::new(&out.bytes, "test");
        assert_eq!(input.u8().expect("u8"), 7);
        assert_eq!(input.u16().expect("u16"), 513);
        assert_eq!(input.u64().expect("u64"), u64::MAX - 1);
        assert_eq!(input.str(64).expect("str"), "reader-1");
        assert_eq!(input.count(3).expect("count"), 3);
        input.finish().expect("nothing left");

        let mut short = Decoder::new(&out.bytes[..5], "test");
        short.u8().expect("u8");
        short.u16().expect("u16");
        assert!(short.u64().is_err());
        let mut capped = Decoder::new(&out.bytes[11..], "test");
        assert!(capped.str(4).is_err());
    }
}
