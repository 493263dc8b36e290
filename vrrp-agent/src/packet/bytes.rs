//! Reading fixed-size fields out of a received frame without indexing (so without panics).
//! Depends on nothing.

/// The `N` bytes of `bytes` starting at `at`, or `None` if they are not all there.
pub(super) fn array_at<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_is_none() {
        assert_eq!(array_at::<2>(&[1, 2, 3], 1), Some([2, 3]));
        assert_eq!(array_at::<2>(&[1, 2, 3], 2), None);
        assert_eq!(array_at::<2>(&[1, 2, 3], usize::MAX), None);
    }
}
