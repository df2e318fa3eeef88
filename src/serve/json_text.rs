//! The bytes a JSON string holds as they are, found eight at a time: request bodies and
//! answers are mostly such text, and a byte-at-a-time scan was a large part of both.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Length of the leading run of `bytes` with no quote, no backslash and no control byte
/// (below 0x20): what a JSON string may hold unescaped.
pub fn plain_len(bytes: &[u8]) -> usize {
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let stops = stop_bytes(u64::from_le_bytes(word));
        if stops != 0 {
            return at + (stops.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + bytes[at..]
        .iter()
        .position(|&c| c < 0x20 || c == b'"' || c == b'\\')
        .unwrap_or(bytes.len() - at)
}

/// The high bit of each byte lane that is a stop byte. A lane above the first stop may be
/// flagged wrongly (a borrow runs upwards), never one below it, so the lowest flag is
/// exact — which is all [`plain_len`] reads.
fn stop_bytes(x: u64) -> u64 {
    let quote = x ^ (ONES * u64::from(b'"'));
    let backslash = x ^ (ONES * u64::from(b'\\'));
    let control = x.wrapping_sub(ONES * 0x20) & !x;
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (control | quote | backslash) & HIGHS
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn byte_at_a_time(bytes: &[u8]) -> usize {
        bytes
            .iter()
            .position(|&c| c < 0x20 || c == b'"' || c == b'\\')
            .unwrap_or(bytes.len())
    }

    #[test]
    fn finds_each_kind_of_stop_in_every_lane() {
        for stop in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
            for at in 0..20 {
                let mut bytes = vec![b'a'; 20];
                bytes[at] = stop;
                assert_eq!(plain_len(&bytes), at, "stop {stop:#x} at {at}");
            }
        }
        let plain = "héllo wörld, no stops here";
        assert_eq!(plain_len(plain.as_bytes()), plain.len());
        assert_eq!(plain_len(b""), 0);
    }

    proptest! {
        /// Bytes drawn mostly near the stops (0x1f/0x20, quote ± 1, backslash ± 1, high
        /// bytes) where a word-at-a-time test could go wrong.
        #[test]
        fn equals_a_byte_at_a_time_scan(bytes in proptest::collection::vec(
            prop_oneof![
                Just(0x1fu8), Just(0x20), Just(0x21), Just(b'"'), Just(b'#'),
                Just(b'['), Just(b'\\'), Just(b']'), Just(0x7f), Just(0x80), Just(0xff),
                Just(0x00), any::<u8>(),
            ],
            0..40,
        )) {
            prop_assert_eq!(plain_len(&bytes), byte_at_a_time(&bytes));
        }
    }
}
