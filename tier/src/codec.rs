//! The erasure code behind one small interface, so the rest of the crate never
//! names reed-solomon-simd and a second codec (ISA-L, say) could be added
//! under a new codec id.
//!
//! Work buffers are kept between calls: encoding a stripe allocates nothing
//! once the first stripe of a given shape is done.

use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

use crate::format::Geometry;

/// Why a stripe could not be reconstructed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{present} of {k} needed cells present: too many lost to reconstruct")]
pub struct TooFewCells {
    pub present: usize,
    pub k: usize,
}

/// Encoder and decoder state for stripes of any geometry.
#[derive(Default)]
pub struct StripeCodec {
    encoder: Option<ReedSolomonEncoder>,
    decoder: Option<ReedSolomonDecoder>,
}

impl StripeCodec {
    pub fn new() -> Self {
        Self::default()
    }

    /// Computes the m parity cells of k data cells of `cell_len` bytes each,
    /// into `parity` (resized to m cells of `cell_len`).
    pub fn encode(
        &mut self,
        geometry: Geometry,
        cell_len: usize,
        data: &[&[u8]],
        parity: &mut Vec<Vec<u8>>,
    ) {
        let (k, m) = (usize::from(geometry.k), usize::from(geometry.m));
        assert_eq!(data.len(), k, "encode takes k data cells");
        assert!(data.iter().all(|cell| cell.len() == cell_len));
        let encoder = match &mut self.encoder {
            Some(encoder) => {
                encoder.reset(k, m, cell_len).expect("geometry was checked");
                encoder
            }
            None => self
                .encoder
                .insert(ReedSolomonEncoder::new(k, m, cell_len).expect("geometry was checked")),
        };
        for cell in data {
            encoder
                .add_original_shard(cell)
                .expect("cell lengths checked");
        }
        let result = encoder.encode().expect("all k cells added");
        parity.resize_with(m, Vec::new);
        for (out, recovery) in parity.iter_mut().zip(result.recovery_iter()) {
            out.clear();
            out.extend_from_slice(recovery);
        }
    }

    /// Restores every missing data cell of a stripe from any k present cells.
    /// `cells[i]` is shard i (data cells first, then parity) if it is intact.
    /// Returns the restored data cells by index.
    pub fn reconstruct(
        &mut self,
        geometry: Geometry,
        cell_len: usize,
        cells: &[Option<&[u8]>],
    ) -> Result<Vec<(usize, Vec<u8>)>, TooFewCells> {
        let (k, m) = (usize::from(geometry.k), usize::from(geometry.m));
        assert_eq!(cells.len(), k + m, "reconstruct takes every shard's slot");
        let present = cells.iter().filter(|c| c.is_some()).count();
        if present < k {
            return Err(TooFewCells { present, k });
        }
        if cells[..k].iter().all(Option::is_some) {
            return Ok(Vec::new());
        }
        let decoder = match &mut self.decoder {
            Some(decoder) => {
                decoder.reset(k, m, cell_len).expect("geometry was checked");
                decoder
            }
            None => self
                .decoder
                .insert(ReedSolomonDecoder::new(k, m, cell_len).expect("geometry was checked")),
        };
        // Exactly k cells: more would not help the decoder.
        let mut added = 0;
        for (i, cell) in cells.iter().enumerate() {
            let Some(cell) = cell else { continue };
            assert_eq!(cell.len(), cell_len);
            if i < k {
                decoder.add_original_shard(i, cell).expect("index in range");
            } else {
                decoder
                    .add_recovery_shard(i - k, cell)
                    .expect("index in range");
            }
            added += 1;
            if added == k {
                break;
            }
        }
        let result = decoder.decode().expect("k cells given");
        Ok(result
            .restored_original_iter()
            .map(|(i, cell)| (i, cell.to_vec()))
            .collect())
    }
}
