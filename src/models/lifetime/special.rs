//! The special functions the lifetime models need: ln Γ, digamma and Gauss's
//! hypergeometric series 2F1 (std has none of them on stable Rust).

/// Lanczos coefficients (g = 7, n = 9): about 15 significant digits for x ≥ 0.5.
const LANCZOS_G: f64 = 7.0;
const LANCZOS: [f64; 9] = [
    0.999_999_999_999_809_9,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_1,
    -176.615_029_162_140_6,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_572e-6,
    1.505_632_735_149_311_6e-7,
];

/// ln Γ(x) for x > 0 (NaN otherwise).
pub fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x < 0.5 {
        // Γ(x) = Γ(x + 1) / x keeps the series in its accurate range.
        return ln_gamma(x + 1.0) - x.ln();
    }
    let x = x - 1.0;
    let mut sum = LANCZOS[0];
    for (i, c) in LANCZOS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + LANCZOS_G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// ψ(x) = d ln Γ(x) / dx for x > 0: the recurrence ψ(x) = ψ(x + 1) − 1/x up to x ≥ 10,
/// then the asymptotic series.
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    let mut x = x;
    let mut shift = 0.0;
    while x < 10.0 {
        shift -= 1.0 / x;
        x += 1.0;
    }
    let inv2 = 1.0 / (x * x);
    let series = inv2
        * (1.0 / 12.0
            - inv2 * (1.0 / 120.0 - inv2 * (1.0 / 252.0 - inv2 * (1.0 / 240.0 - inv2 / 132.0))));
    shift + x.ln() - 0.5 / x - series
}

/// Most terms summed before 2F1 gives up (|z| = 0.999 needs a few tens of thousands).
const HYP2F1_MAX_TERMS: usize = 1_000_000;

/// Gauss's hypergeometric function 2F1(a, b; c; z) by its power series, for 0 ≤ z < 1;
/// `None` when it does not converge to a finite value.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Option<f64> {
    if !(0.0..1.0).contains(&z) {
        return None;
    }
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 0..HYP2F1_MAX_TERMS {
        let n = n as f64;
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        if !sum.is_finite() {
            return None;
        }
        if term.abs() <= f64::EPSILON * sum.abs() {
            return Some(sum);
        }
    }
    None
}

/// Most terms of [`ln_hyp2f1_next`]'s series. Its terms shrink like zⁿ, so this covers
/// z up to about 0.998; nearer 1 (where a fit drives the drop-out rate to zero and every
/// customer's series runs to tens of thousands of terms) it answers `None` and Pareto/NBD
/// is left out rather than making training minutes slower.
const HYP2F1_NEXT_MAX_TERMS: usize = 20_000;

/// ln 2F1(a, b; a + 1; z) for 0 ≤ z < 1 and b ≤ a + 1, the form Pareto/NBD's likelihood
/// needs. Euler's transformation makes it (1 − z)^(1 − b) 2F1(1, a + 1 − b; a + 1; z),
/// whose terms are positive and shrink at least as fast as zⁿ: no overflow for the large
/// b (= r + x) of frequent buyers, where the direct series exceeds f64 before it turns.
pub fn ln_hyp2f1_next(a: f64, b: f64, z: f64) -> Option<f64> {
    if !(0.0..1.0).contains(&z) || b > a + 1.0 {
        return None;
    }
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 0..HYP2F1_NEXT_MAX_TERMS {
        let n = n as f64;
        term *= (a + 1.0 - b + n) / (a + 1.0 + n) * z;
        sum += term;
        if term <= f64::EPSILON * sum {
            return Some((1.0 - b) * (1.0 - z).ln() + sum.ln());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1.0)
    }

    #[test]
    fn ln_gamma_matches_known_values() {
        assert!(close(ln_gamma(1.0), 0.0, 1e-14));
        assert!(close(
            ln_gamma(0.5),
            std::f64::consts::PI.sqrt().ln(),
            1e-14
        ));
        assert!(close(ln_gamma(10.0), (362_880.0f64).ln(), 1e-14));
        // scipy.special.gammaln
        assert!(close(ln_gamma(0.243), 1.318_043_584_699_669_9, 1e-13));
        assert!(close(ln_gamma(123.456), 469.605_547_129_929_5, 1e-13));
        assert!(ln_gamma(0.0).is_nan() && ln_gamma(-1.0).is_nan());
    }

    #[test]
    fn digamma_is_the_slope_of_ln_gamma() {
        for x in [0.05, 0.243, 0.9, 1.0, 2.5, 7.0, 40.0, 1e4] {
            let h = 1e-5 * x;
            let slope = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            assert!(close(digamma(x), slope, 1e-7), "x = {x}");
        }
        // ψ(1) = −γ
        assert!(close(digamma(1.0), -0.577_215_664_901_532_9, 1e-13));
    }

    #[test]
    fn hyp2f1_matches_closed_forms() {
        // 2F1(1, 1; 2; z) = −ln(1 − z) / z
        for z in [0.01f64, 0.3, 0.7, 0.95] {
            let want = -(1.0 - z).ln() / z;
            assert!(close(hyp2f1(1.0, 1.0, 2.0, z).unwrap(), want, 1e-12));
        }
        // 2F1(a, b; b; z) = (1 − z)^−a
        assert!(close(
            hyp2f1(0.7, 3.2, 3.2, 0.6).unwrap(),
            0.4f64.powf(-0.7),
            1e-12
        ));
        assert_eq!(hyp2f1(1.0, 1.0, 2.0, 1.0), None);
    }

    #[test]
    fn ln_hyp2f1_next_is_the_direct_series_where_that_converges() {
        for (a, b, z) in [
            (1.2, 0.7, 0.3),
            (5.5, 3.1, 0.8),
            (0.9, 1.6, 0.95),
            (30.0, 28.0, 0.5),
        ] {
            let direct = hyp2f1(a, b, a + 1.0, z).unwrap().ln();
            let euler = ln_hyp2f1_next(a, b, z).unwrap();
            assert!(
                close(euler, direct, 1e-12),
                "{a} {b} {z}: {euler} vs {direct}"
            );
        }
        // scipy.special.hyp2f1(300.6, 300.1, 301.6, 0.9), near the end of f64's range.
        let scipy = 1.264_602_863_029_270_4e299_f64.ln();
        assert!(close(
            ln_hyp2f1_next(300.6, 300.1, 0.9).unwrap(),
            scipy,
            1e-12
        ));
    }
}
