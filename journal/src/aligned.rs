//! A heap buffer aligned to the O_DIRECT block size.
//!
//! O_DIRECT requires the memory address, the file offset and the length of every
//! transfer to be multiples of the logical block size. Every buffer the journal
//! hands to storage is an `AlignedBuf` so that requirement holds by construction.
//! This is the only module of the crate with `unsafe` code.

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::ptr::NonNull;

/// Alignment and granularity of every journal transfer: one 4 KiB block.
pub const BLOCK: usize = 4096;

/// Rounds `n` up to a multiple of [`BLOCK`].
pub const fn align_up(n: usize) -> usize {
    n.div_ceil(BLOCK) * BLOCK
}

/// A zero-initialised buffer whose address and capacity are multiples of [`BLOCK`].
///
/// It has a fixed capacity and a length; only `[0, len)` is meaningful. The
/// length is always a multiple of [`BLOCK`] when the buffer is handed to storage.
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    capacity: usize,
    len: usize,
}

// SAFETY: `AlignedBuf` owns its allocation exclusively, like `Vec<u8>`.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    /// Allocates a zeroed buffer of at least `capacity` bytes, rounded up to a block.
    pub fn new(capacity: usize) -> Self {
        let capacity = align_up(capacity.max(1));
        let layout = Self::layout(capacity);
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        Self {
            ptr,
            capacity,
            len: 0,
        }
    }

    fn layout(capacity: usize) -> Layout {
        match Layout::from_size_align(capacity, BLOCK) {
            Ok(layout) => layout,
            Err(_) => panic!("aligned buffer of {capacity} bytes exceeds the address space"),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sets the meaningful length. Bytes past the old length are whatever the
    /// buffer held; callers that grow the length write those bytes first.
    pub fn set_len(&mut self, len: usize) {
        assert!(
            len <= self.capacity,
            "length {len} over capacity {}",
            self.capacity
        );
        self.len = len;
    }

    /// Zeroes the whole capacity and sets the length to zero, for reuse.
    pub fn clear(&mut self) {
        self.spare_all().fill(0);
        self.len = 0;
    }

    /// The whole capacity, for writing before `set_len`.
    pub fn spare_all(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` is valid for `capacity` bytes, zero-initialised at allocation
        // and only ever written through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.capacity) }
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `[0, len)` lies within the initialised allocation.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let len = self.len;
        &mut self.spare_all()[..len]
    }

    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with exactly this layout.
        unsafe { dealloc(self.ptr.as_ptr(), Self::layout(self.capacity)) }
    }
}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("capacity", &self.capacity)
            .field("len", &self.len)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_block_aligned_and_zeroed() {
        let mut buf = AlignedBuf::new(5000);
        assert_eq!(buf.capacity(), 8192);
        assert_eq!(buf.as_ptr() as usize % BLOCK, 0);
        assert!(buf.spare_all().iter().all(|&b| b == 0));
        buf.spare_all()[0] = 7;
        buf.set_len(BLOCK);
        assert_eq!(buf.as_slice()[0], 7);
        buf.clear();
        assert!(buf.is_empty());
        assert_eq!(buf.spare_all()[0], 0);
    }
}
