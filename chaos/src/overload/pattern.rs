//! The bytes of the big segment the readers read: byte `o` is a pure
//! function of `o`, so any range read back can be checked on its own,
//! whatever its offset and length.

/// Fills `out` with the bytes at `offset..offset + out.len()`.
pub fn fill(offset: u64, out: &mut [u8]) {
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = byte_at(offset + i as u64);
    }
}

/// Whether `data` is what lies at `offset`; `Some(i)` names the first
/// wrong byte.
pub fn first_mismatch(offset: u64, data: &[u8]) -> Option<usize> {
    data.iter()
        .enumerate()
        .find(|(i, b)| **b != byte_at(offset + *i as u64))
        .map(|(i, _)| i)
}

fn byte_at(offset: u64) -> u8 {
    let word = mix(offset / 8);
    word.to_le_bytes()[(offset % 8) as usize]
}

/// SplitMix64's finaliser: every word differs from its neighbours.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_range_checks_against_the_whole() {
        let mut whole = vec![0u8; 100];
        fill(1000, &mut whole);
        assert_eq!(first_mismatch(1000, &whole), None);
        assert_eq!(first_mismatch(1013, &whole[13..57]), None);
        let mut shifted = whole[13..57].to_vec();
        assert_eq!(first_mismatch(1014, &shifted).map(|_| ()), Some(()));
        shifted[5] ^= 1;
        assert_eq!(first_mismatch(1013, &shifted), Some(5));
    }
}
