//! Numbers written for people, appended to a buffer. A batch run writes millions of them,
//! and `format!("{:.4}")` takes the exact, slow path, so these use integer arithmetic on
//! the scaled value (rounding half away from zero) and never allocate.

use std::fmt::Write;

/// Largest scaled value written by integer arithmetic (exact in an f64).
const EXACT: f64 = 9e15;

/// `x` with exactly `decimals` digits after the point: `0.7474`, `1241.48`.
pub fn push_fixed(out: &mut String, x: f64, decimals: u32) {
    let Some(&scale) = POWERS_OF_TEN.get(decimals as usize) else {
        let _ = write!(out, "{x:.*}", decimals as usize);
        return;
    };
    let scaled = (x * scale).round();
    if !scaled.is_finite() || scaled.abs() >= EXACT {
        let _ = write!(out, "{x:.*}", decimals as usize);
        return;
    }
    let n = scaled as i64;
    // Digits right to left into a buffer, the point after `decimals` of them.
    let (mut buffer, mut at) = ([0u8; 40], 40);
    let (mut rest, mut written) = (n.unsigned_abs(), 0);
    while written <= decimals || rest > 0 {
        if written == decimals && decimals > 0 {
            at -= 1;
            buffer[at] = b'.';
        }
        at -= 1;
        buffer[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        written += 1;
    }
    if n < 0 {
        at -= 1;
        buffer[at] = b'-';
    }
    out.push_str(std::str::from_utf8(&buffer[at..]).unwrap_or_default());
}

/// `10^decimals` for the decimals written by integer arithmetic (up to 15), each exact
/// in an f64, so a look-up gives what `10f64.powi(decimals)` computes.
const POWERS_OF_TEN: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// `x` as a short readable number: two decimals below 100, none from 100 up, trailing
/// zeros dropped (`5`, `70.35`, `1397`, never `-0`).
pub fn push_short(out: &mut String, x: f64) {
    let start = out.len();
    push_fixed(out, x, if x.abs() >= 100.0 { 0 } else { 2 });
    if out[start..].contains('.') {
        let kept = out.trim_end_matches('0').trim_end_matches('.').len();
        out.truncate(kept);
    }
    if &out[start..] == "-0" {
        out.truncate(start);
        out.push('0');
    }
}

/// A whole number, appended.
pub fn push_integer(out: &mut String, n: u64) {
    let mut buffer = [0u8; 20];
    out.push_str(std::str::from_utf8(integer_digits(n, &mut buffer)).unwrap_or_default());
}

/// `n`'s decimal digits, written right to left into the end of `buffer`: the digits.
pub fn integer_digits(mut n: u64, buffer: &mut [u8; 20]) -> &[u8] {
    let mut at = buffer.len();
    loop {
        at -= 1;
        buffer[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buffer[at..]
}

/// [`push_fixed`] into a new string.
pub fn fixed(x: f64, decimals: u32) -> String {
    let mut out = String::new();
    push_fixed(&mut out, x, decimals);
    out
}

/// [`push_short`] into a new string.
pub fn short(x: f64) -> String {
    let mut out = String::new();
    push_short(&mut out, x);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fixed_point_matches_the_usual_formatting() {
        for x in [
            0.0, 0.5, 0.33147956, 1.0, 895.0903, -12.345678, 123456.789, 1e-9, -0.00004,
        ] {
            for d in [2, 4] {
                let ours = fixed(x, d);
                let std = format!("{x:.*}", d as usize);
                let same = ours == std || ours == std.replacen("-0", "0", 1);
                assert!(same, "{x} at {d}: {ours} vs {std}");
            }
        }
        assert_eq!(fixed(1397.4, 0), "1397");
        // Halves round away from zero (the usual formatting rounds 0.5 to even, "0").
        assert_eq!((fixed(0.5, 0), fixed(-2.5, 0)), ("1".into(), "-3".into()));
        assert_eq!(fixed(f64::INFINITY, 2), "inf");
        let mut whole = String::new();
        push_integer(&mut whole, u64::MAX);
        push_integer(&mut whole, 0);
        assert_eq!(whole, format!("{}0", u64::MAX));
        assert_eq!(fixed(1e300, 2), format!("{:.2}", 1e300));
    }

    #[test]
    fn the_powers_are_those_powi_computes() {
        for (decimals, &power) in POWERS_OF_TEN.iter().enumerate() {
            assert_eq!(power, 10f64.powi(decimals as i32));
        }
        assert_eq!(fixed(0.123456789, 16), format!("{:.16}", 0.123456789));
    }

    #[test]
    fn short_numbers_drop_float_noise() {
        assert_eq!(short(5.000000001), "5");
        assert_eq!(short(70.349999), "70.35");
        assert_eq!(short(1397.4), "1397");
        assert_eq!(short(-0.0001), "0");
        assert_eq!(short(-3.5), "-3.5");
        assert_eq!(short(0.1), "0.1");
        let mut out = String::from("tenure = ");
        push_short(&mut out, 6.0);
        assert_eq!(out, "tenure = 6");
    }

    proptest! {
        #[test]
        fn fixed_reads_back_within_half_a_unit(x in -1e9f64..1e9, decimals in 0u32..5) {
            let text = fixed(x, decimals);
            let back: f64 = text.parse().unwrap();
            let unit = 10f64.powi(-(decimals as i32));
            prop_assert!((back - x).abs() <= unit / 2.0 + x.abs() * 1e-15, "{x} → {text}");
            prop_assert_eq!(text.split('.').nth(1).map_or(0, str::len), decimals as usize);
        }
    }
}
