//! Small statistics shared by the models.

/// Median of an ascending slice; NaN for an empty one.
pub fn median_sorted(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Median of any values (copied and sorted).
pub fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.into_iter().collect();
    v.sort_by(f64::total_cmp);
    median_sorted(&v)
}

pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// Population standard deviation.
pub fn std_dev(values: &[f64]) -> f64 {
    let m = mean(values);
    (values.iter().map(|x| (x - m).powi(2)).sum::<f64>() / values.len() as f64).sqrt()
}

/// ln(1 + e^z) without overflow: the log loss of a logistic output, for the logistic
/// fit and the GBM's validation alike.
pub fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// Squared Euclidean distance. Four running sums let the compiler vectorise the loop (a
/// single f64 sum must be added in order).
pub fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut sums = [0.0f64; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = a4
        .remainder()
        .iter()
        .zip(b4.remainder())
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    for (x, y) in a4.zip(b4) {
        for j in 0..4 {
            let d = x[j] - y[j];
            sums[j] += d * d;
        }
    }
    sums.iter().sum::<f64>() + tail
}

/// Adjusted Rand index of two labelings of the same items (Hubert & Arabie, as
/// scikit-learn's `adjusted_rand_score`): 1 = the same partition, about 0 = chance
/// agreement. Labels are small integers; extra items in the longer slice are ignored.
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
    let n = a.len().min(b.len());
    let (ka, kb) = (label_count(&a[..n]), label_count(&b[..n]));
    let mut table = vec![0u64; ka * kb];
    let (mut rows, mut cols) = (vec![0u64; ka], vec![0u64; kb]);
    for (&x, &y) in a[..n].iter().zip(&b[..n]) {
        table[x * kb + y] += 1;
        rows[x] += 1;
        cols[y] += 1;
    }
    let pairs = |c: &u64| (*c * c.saturating_sub(1)) as f64 / 2.0;
    let together: f64 = table.iter().map(pairs).sum();
    let (sum_a, sum_b): (f64, f64) = (rows.iter().map(pairs).sum(), cols.iter().map(pairs).sum());
    let expected = sum_a * sum_b / pairs(&(n as u64)).max(1.0);
    let maximum = (sum_a + sum_b) / 2.0;
    // Both labelings put every item alone, or every item together: they agree fully
    // (scikit-learn's convention), and the formula would divide by zero.
    if maximum == expected {
        return 1.0;
    }
    (together - expected) / (maximum - expected)
}

fn label_count(labels: &[usize]) -> usize {
    labels.iter().copied().max().map_or(0, |m| m + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squared_distance_handles_any_length() {
        for n in 0..11 {
            let a: Vec<f64> = (0..n).map(f64::from).collect();
            let b: Vec<f64> = (0..n).map(|i| f64::from(i) * 2.0 + 1.0).collect();
            let expected: f64 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
            assert!((squared_distance(&a, &b) - expected).abs() < 1e-9);
        }
    }

    #[test]
    fn medians() {
        assert_eq!(median([3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median([4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median([]).is_nan());
    }

    /// Values from scikit-learn 1.9.1 `adjusted_rand_score` on the same labelings
    /// (python3, `from sklearn.metrics import adjusted_rand_score`).
    #[test]
    fn adjusted_rand_index_matches_scikit_learn() {
        let cases: [(&[usize], &[usize], f64); 5] = [
            (&[0, 0, 1, 1], &[0, 0, 1, 2], 0.5714285714285714),
            (&[0, 0, 1, 1], &[0, 1, 0, 1], -0.5),
            (
                &[0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3],
                &[1, 1, 0, 0, 2, 2, 2, 1, 3, 3, 3, 0],
                0.06278026905829596,
            ),
            (&[0, 0, 0, 0], &[0, 1, 2, 3], 0.0),
            (
                &[
                    2, 2, 0, 3, 1, 0, 1, 0, 2, 3, 1, 3, 0, 1, 0, 1, 3, 2, 1, 3, 1, 0, 1, 3, 1, 1,
                    0, 0, 1, 1, 1, 1, 2, 2, 1, 1, 1, 1, 3, 2,
                ],
                &[
                    2, 2, 1, 3, 1, 0, 1, 0, 2, 3, 1, 3, 0, 1, 0, 1, 2, 2, 1, 3, 1, 0, 1, 3, 1, 0,
                    0, 0, 1, 1, 1, 1, 0, 2, 1, 0, 1, 0, 3, 2,
                ],
                0.6298084397784087,
            ),
        ];
        for (a, b, expected) in cases {
            let got = adjusted_rand_index(a, b);
            assert!(
                (got - expected).abs() < 1e-12,
                "{a:?} {b:?}: {got} vs {expected}"
            );
        }
        // Renaming labels changes nothing; one cluster on both sides is full agreement.
        assert_eq!(adjusted_rand_index(&[0, 0, 1], &[1, 1, 0]), 1.0);
        assert_eq!(adjusted_rand_index(&[0, 0, 0], &[0, 0, 0]), 1.0);
    }
}
