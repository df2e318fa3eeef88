//! Equality of short texts without a call: category names, item names and field names
//! are a few bytes to a few dozen, and comparing them with `==` calls the C library's
//! `bcmp`, whose call and set-up cost more than the comparison. Scoring compares
//! dozens of them per record.

/// `a == b`, a word at a time.
#[inline(always)]
pub fn same(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

/// `a == b` for byte slices, a word at a time (the last word overlapping the one before
/// when the length is not a multiple of eight).
#[inline(always)]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=7 => word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4),
        _ => {
            let mut at = 0;
            while at + 8 < n {
                if word8(a, at) != word8(b, at) {
                    return false;
                }
                at += 8;
            }
            word8(a, n - 8) == word8(b, n - 8)
        }
    }
}

fn word4(bytes: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(w)
}

fn word8(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Agrees with `==` on equal slices, on ones that differ in one byte anywhere
        /// and on ones of different lengths, at every length up to a few words.
        #[test]
        fn same_bytes_is_equality(
            a in prop::collection::vec(any::<u8>(), 0..40),
            at in any::<usize>(),
            delta in 1u8..,
        ) {
            prop_assert!(same_bytes(&a, &a.clone()));
            if !a.is_empty() {
                let mut b = a.clone();
                let at = at % a.len();
                b[at] = b[at].wrapping_add(delta);
                prop_assert!(!same_bytes(&a, &b));
                prop_assert!(!same_bytes(&a, &a[..a.len() - 1]));
            }
        }
    }

    #[test]
    fn texts_compare_by_their_bytes() {
        assert!(same("Month-to-month", "Month-to-month"));
        assert!(!same("Month-to-month", "Month-to-montH"));
        assert!(!same("No", "No "));
        assert!(same("", ""));
        assert!(same("Año", "Año"));
    }
}
