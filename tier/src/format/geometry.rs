//! The shape of a stripe: codec, k data cells, m parity cells, cell size, and
//! how a stripe's data is laid over its cells.
//!
//! A stripe holds up to `k × cell_size` bytes of one segment. Data cell `i`
//! holds bytes `i × cell_len .. (i + 1) × cell_len` of the stripe, zero-padded;
//! parity cells are the codec's recovery shards of the k data cells. A full
//! stripe has `cell_len = cell_size`; a partial one (the tail of an append) has
//! the smallest multiple of [`CELL_ALIGN`] that fits, so a small tail does not
//! cost k + m full cells.

use super::FormatError;

/// Cell lengths are multiples of this: reed-solomon-simd needs even shard
/// lengths, and multiples of 64 are supported by every version of it.
pub const CELL_ALIGN: u32 = 64;
/// Largest configurable cell: bounds what a read or a decoder allocates.
pub const MAX_CELL_SIZE: u32 = 16 << 20;
/// Most data cells per stripe.
pub const MAX_K: u8 = 32;
/// Most parity cells per stripe.
pub const MAX_M: u8 = 16;
/// Longest segment name stored (the wire protocol's limit too).
pub const MAX_NAME_BYTES: usize = 255;

/// The erasure code a stripe was encoded with. Parity of one code cannot be
/// decoded by another, so every stripe names its code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// reed-solomon-simd 3.x: Leopard-style Reed-Solomon over GF(2^16).
    ReedSolomonLeopard16,
}

impl Codec {
    pub fn code(self) -> u8 {
        match self {
            Codec::ReedSolomonLeopard16 => 1,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Codec::ReedSolomonLeopard16),
            _ => None,
        }
    }
}

/// Codec, k, m and cell size of a stripe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Geometry {
    pub codec: Codec,
    pub k: u8,
    pub m: u8,
    pub cell_size: u32,
}

impl Geometry {
    /// Checks the limits; `what` names the structure for the error.
    pub fn check(&self, what: &'static str) -> Result<(), FormatError> {
        let bad = |field| Err(FormatError::BadField { what, field });
        if self.k == 0 || self.k > MAX_K {
            return bad("k");
        }
        if self.m == 0 || self.m > MAX_M {
            return bad("m");
        }
        if self.cell_size == 0
            || self.cell_size > MAX_CELL_SIZE
            || !self.cell_size.is_multiple_of(CELL_ALIGN)
        {
            return bad("cell_size");
        }
        Ok(())
    }

    /// Cells per stripe, data and parity.
    pub fn shards(&self) -> usize {
        usize::from(self.k) + usize::from(self.m)
    }

    /// Most segment bytes one stripe holds.
    pub fn stripe_capacity(&self) -> u64 {
        u64::from(self.k) * u64::from(self.cell_size)
    }

    /// Whether `data_len` bytes fit one stripe (and are not zero).
    pub fn holds(&self, data_len: u32) -> bool {
        data_len > 0 && u64::from(data_len) <= self.stripe_capacity()
    }

    /// The length of every cell of a stripe holding `data_len` bytes.
    pub fn cell_len(&self, data_len: u32) -> u32 {
        assert!(self.holds(data_len), "{data_len} bytes in {self:?}");
        let per_cell = data_len.div_ceil(u32::from(self.k));
        per_cell.next_multiple_of(CELL_ALIGN).min(self.cell_size)
    }
}
