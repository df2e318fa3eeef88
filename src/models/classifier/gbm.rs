//! Gradient-boosted trees, our own compact histogram implementation: features binned
//! once into at most `max_bins` quantile bins, depth-wise trees grown on gradient/hessian
//! histograms (the larger child's histogram by subtraction), Newton leaf values with L2
//! shrinkage, and early stopping on a stratified inner validation split. The fitted
//! trees split on raw feature values, so scoring needs no bins.

use super::calibration::sigmoid;
use super::cv::stratified_folds;
use super::dense_forest::DenseForest;
use super::explain::ReasonMethod;
use super::flat_tree::{FlatTree, Node};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GbmParams {
    pub learning_rate: f64,
    pub max_depth: usize,
    /// Fewest training rows in a leaf.
    pub min_leaf: usize,
    /// L2 penalty on leaf values.
    pub lambda: f64,
    pub max_rounds: usize,
    /// Stop when validation log loss has not improved for this many rounds; 0 fits
    /// exactly `max_rounds` rounds on every row.
    pub early_stopping_rounds: usize,
    /// Share of the training rows held out to choose the number of rounds.
    pub validation_share: f64,
    pub max_bins: usize,
}

impl Default for GbmParams {
    fn default() -> Self {
        GbmParams {
            learning_rate: 0.05,
            max_depth: 3,
            min_leaf: 20,
            lambda: 1.0,
            max_rounds: 1000,
            early_stopping_rounds: 20,
            validation_share: 0.15,
            max_bins: 64,
        }
    }
}

/// The stored form: base and trees. The scoring layout is rebuilt from it on load.
#[derive(Serialize, Deserialize)]
struct StoredGbm {
    base: f64,
    trees: Vec<FlatTree>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredGbm", into = "StoredGbm")]
pub struct GbmModel {
    /// Log-odds of the training churn rate.
    base: f64,
    trees: Vec<FlatTree>,
    /// The same trees laid out for scoring (absent for trees too deep to pad).
    dense: Option<DenseForest>,
}

impl From<StoredGbm> for GbmModel {
    fn from(stored: StoredGbm) -> Self {
        GbmModel::new(stored.base, stored.trees)
    }
}

impl From<GbmModel> for StoredGbm {
    fn from(model: GbmModel) -> Self {
        StoredGbm {
            base: model.base,
            trees: model.trees,
        }
    }
}

impl GbmModel {
    pub fn new(base: f64, trees: Vec<FlatTree>) -> Self {
        let dense = DenseForest::new(&trees);
        GbmModel { base, trees, dense }
    }

    pub fn trees(&self) -> &[FlatTree] {
        &self.trees
    }

    /// Churn log-odds of one encoded row.
    pub fn log_odds(&self, x: &[f64]) -> f64 {
        match &self.dense {
            Some(dense) => self.base + dense.predict(x),
            None => self.base + self.trees.iter().map(|t| t.predict(x)).sum::<f64>(),
        }
    }

    /// Per-feature contributions; returns the bias so that bias + sum = log-odds.
    pub fn contributions(&self, x: &[f64], out: &mut [f64], method: ReasonMethod) -> f64 {
        if let (ReasonMethod::Path, Some(dense)) = (method, &self.dense) {
            return self.base + dense.path_contributions(x, out);
        }
        let mut stack = Vec::with_capacity(32);
        let per_tree = |t: &FlatTree| match method {
            ReasonMethod::TreeShap => super::tree_shap::tree_shap(t, x, out, &mut stack),
            ReasonMethod::Path => t.path_contributions(x, out),
        };
        self.base + self.trees.iter().map(per_tree).sum::<f64>()
    }
}

/// Binned training matrix, row-major: `bins[row * width + feature]` is the feature's bin;
/// `slots` the same cell's index into a histogram (feature block offset + bin).
struct Binned {
    bins: Vec<u8>,
    slot_of: Vec<u32>,
    width: usize,
    /// Upper edge (inclusive) of each bin, per feature.
    upper: Vec<Vec<f64>>,
    /// Split point after each bin: halfway between its largest value and the next bin's
    /// smallest, so a value scored later never sits on a threshold by a rounding error.
    cuts: Vec<Vec<f64>>,
    /// Start of each feature's block in a histogram.
    offsets: Vec<usize>,
    slots: usize,
}

impl Binned {
    fn new(x: ArrayView2<f64>, max_bins: usize) -> Binned {
        let (rows, width) = x.dim();
        let (upper, cuts): (Vec<Vec<f64>>, Vec<Vec<f64>>) = (0..width)
            .map(|f| bin_edges(x.column(f).iter().copied(), max_bins))
            .unzip();
        let mut bins = vec![0u8; rows * width];
        for r in 0..rows {
            for (f, edges) in upper.iter().enumerate() {
                let v = x[(r, f)];
                bins[r * width + f] = edges.partition_point(|&e| e < v).min(edges.len() - 1) as u8;
            }
        }
        let mut offsets = Vec::with_capacity(width);
        let mut slots = 0;
        for edges in &upper {
            offsets.push(slots);
            slots += edges.len();
        }
        let slot_of = bins
            .iter()
            .enumerate()
            .map(|(i, &b)| (offsets[i % width] + b as usize) as u32)
            .collect();
        Binned {
            bins,
            slot_of,
            width,
            upper,
            cuts,
            offsets,
            slots,
        }
    }
}

/// Bin upper edges (distinct values when there are few, else quantiles; the last is the
/// maximum) and the cut after each bin (midway to the next distinct value).
fn bin_edges(values: impl Iterator<Item = f64>, max_bins: usize) -> (Vec<f64>, Vec<f64>) {
    let mut sorted: Vec<f64> = values.collect();
    sorted.sort_by(f64::total_cmp);
    let mut distinct = sorted.clone();
    distinct.dedup();
    let edges = if distinct.len() <= max_bins {
        distinct.clone()
    } else {
        let mut edges: Vec<f64> = (1..=max_bins)
            .map(|q| sorted[(q * sorted.len() / max_bins).min(sorted.len()) - 1])
            .collect();
        edges.dedup();
        edges
    };
    let cuts = edges
        .iter()
        .map(|&e| {
            let next = distinct.partition_point(|&v| v <= e);
            distinct.get(next).map_or(e, |&n| e + (n - e) / 2.0)
        })
        .collect();
    (edges, cuts)
}

#[derive(Clone, Copy, Default)]
struct Slot {
    g: f64,
    h: f64,
    n: u32,
}

struct Split {
    feature: usize,
    bin: usize,
    gain: f64,
}

struct Grower<'a> {
    data: &'a Binned,
    grad: &'a [f64],
    hess: &'a [f64],
    params: &'a GbmParams,
    nodes: Vec<Node>,
}

impl Grower<'_> {
    fn histogram(&self, rows: &[u32]) -> Vec<Slot> {
        let mut hist = vec![Slot::default(); self.data.slots];
        let w = self.data.width;
        for &r in rows {
            let r = r as usize;
            let (g, h) = (self.grad[r], self.hess[r]);
            for &s in &self.data.slot_of[r * w..(r + 1) * w] {
                let slot = &mut hist[s as usize];
                slot.g += g;
                slot.h += h;
                slot.n += 1;
            }
        }
        hist
    }

    fn value(&self, g: f64, h: f64) -> f64 {
        -g / (h + self.params.lambda) * self.params.learning_rate
    }

    fn best_split(&self, hist: &[Slot], g: f64, h: f64, n: u32) -> Option<Split> {
        let lambda = self.params.lambda;
        let min_leaf = self.params.min_leaf as u32;
        let parent = g * g / (h + lambda);
        let mut best: Option<Split> = None;
        for f in 0..self.data.width {
            let block = &hist[self.data.offsets[f]..][..self.data.upper[f].len()];
            let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0u32);
            for (bin, slot) in block.iter().enumerate().take(block.len() - 1) {
                gl += slot.g;
                hl += slot.h;
                nl += slot.n;
                if nl < min_leaf {
                    continue;
                }
                if n - nl < min_leaf {
                    break;
                }
                let (gr, hr) = (g - gl, h - hl);
                let gain = gl * gl / (hl + lambda) + gr * gr / (hr + lambda) - parent;
                if gain > best.as_ref().map_or(1e-9, |b| b.gain) {
                    best = Some(Split {
                        feature: f,
                        bin,
                        gain,
                    });
                }
            }
        }
        best
    }

    /// Grow the subtree over `rows` (reordered in place); returns its node index.
    fn grow(&mut self, rows: &mut [u32], hist: Vec<Slot>, depth: usize) -> u32 {
        let (g, h) = rows.iter().fold((0.0, 0.0), |(g, h), &r| {
            (g + self.grad[r as usize], h + self.hess[r as usize])
        });
        let at = self.nodes.len() as u32;
        self.nodes.push(Node {
            cover: rows.len() as f64,
            ..Node::leaf(self.value(g, h))
        });
        if depth >= self.params.max_depth {
            return at;
        }
        let Some(split) = self.best_split(&hist, g, h, rows.len() as u32) else {
            return at;
        };
        let w = self.data.width;
        let goes_left =
            |r: u32| self.data.bins[r as usize * w + split.feature] as usize <= split.bin;
        let mid = partition(rows, goes_left);
        let (left_rows, right_rows) = rows.split_at_mut(mid);
        // Build the smaller child's histogram; the other is the parent's minus it.
        let small_is_left = left_rows.len() <= right_rows.len();
        let small = self.histogram(if small_is_left { left_rows } else { right_rows });
        let large: Vec<Slot> = hist
            .iter()
            .zip(&small)
            .map(|(p, s)| Slot {
                g: p.g - s.g,
                h: p.h - s.h,
                n: p.n - s.n,
            })
            .collect();
        let (left_hist, right_hist) = if small_is_left {
            (small, large)
        } else {
            (large, small)
        };
        let left = self.grow(left_rows, left_hist, depth + 1);
        let right = self.grow(right_rows, right_hist, depth + 1);
        let node = &mut self.nodes[at as usize];
        node.feature = split.feature as u32;
        node.threshold = self.data.cuts[split.feature][split.bin];
        node.left = left;
        node.right = right;
        at
    }
}

/// Move the rows for which `left` holds to the front; returns how many there are.
fn partition(rows: &mut [u32], left: impl Fn(u32) -> bool) -> usize {
    let mut mid = 0;
    for i in 0..rows.len() {
        if left(rows[i]) {
            rows.swap(i, mid);
            mid += 1;
        }
    }
    mid
}

fn logistic_log_loss(y: &[bool], f: &[f64], rows: &[u32]) -> f64 {
    rows.iter()
        .map(|&r| {
            let z = f[r as usize];
            // log(1 + e^-z) for positives, log(1 + e^z) for negatives, computed stably.
            let s = if y[r as usize] { -z } else { z };
            s.max(0.0) + (-s.abs()).exp().ln_1p()
        })
        .sum::<f64>()
        / rows.len().max(1) as f64
}

/// Boost `rounds` trees on `fit_rows`, tracking validation loss on `valid_rows`;
/// returns the trees and the best round count (all of them when there is no validation).
fn boost(
    data: &Binned,
    y: &[bool],
    fit_rows: &[u32],
    valid_rows: &[u32],
    base: f64,
    params: &GbmParams,
    rounds: usize,
) -> (Vec<FlatTree>, usize) {
    let n = y.len();
    let mut f = vec![base; n];
    let (mut grad, mut hess) = (vec![0.0; n], vec![0.0; n]);
    let mut trees = Vec::new();
    let (mut best_loss, mut best_rounds) = (f64::INFINITY, 0);
    for round in 0..rounds {
        for &r in fit_rows {
            let r = r as usize;
            let p = sigmoid(f[r]);
            grad[r] = p - f64::from(u8::from(y[r]));
            hess[r] = (p * (1.0 - p)).max(1e-12);
        }
        let mut grower = Grower {
            data,
            grad: &grad,
            hess: &hess,
            params,
            nodes: Vec::new(),
        };
        let mut rows = fit_rows.to_vec();
        let hist = grower.histogram(&rows);
        grower.grow(&mut rows, hist, 0);
        let tree = FlatTree {
            nodes: grower.nodes,
        };
        for &r in fit_rows.iter().chain(valid_rows) {
            f[r as usize] += predict_binned(&tree, data, r as usize);
        }
        trees.push(tree);
        if valid_rows.is_empty() {
            best_rounds = round + 1;
            continue;
        }
        let loss = logistic_log_loss(y, &f, valid_rows);
        if loss < best_loss - 1e-7 {
            (best_loss, best_rounds) = (loss, round + 1);
        } else if round + 1 - best_rounds >= params.early_stopping_rounds {
            break;
        }
    }
    trees.truncate(best_rounds.max(1));
    (trees, best_rounds.max(1))
}

fn predict_binned(tree: &FlatTree, data: &Binned, row: usize) -> f64 {
    let mut at = 0;
    loop {
        let node = &tree.nodes[at];
        if node.is_leaf() {
            return node.value;
        }
        let f = node.feature as usize;
        let bin = data.bins[row * data.width + f] as usize;
        at = if data.upper[f][bin] <= node.threshold {
            node.left
        } else {
            node.right
        } as usize;
    }
}

/// Fit on every row: choose the number of rounds by early stopping on a stratified
/// inner split, then boost that many rounds (scaled up for the extra rows) on all rows.
pub fn fit_gbm(x: ArrayView2<f64>, y: &[bool], params: &GbmParams, seed: u64) -> GbmModel {
    let data = Binned::new(x, params.max_bins.clamp(2, 256));
    let all: Vec<u32> = (0..y.len() as u32).collect();
    let base_of = |rows: &[u32]| {
        let rate = rows.iter().filter(|&&r| y[r as usize]).count() as f64 / rows.len() as f64;
        super::calibration::logit(rate)
    };
    if params.early_stopping_rounds == 0 {
        let base = base_of(&all);
        let (trees, _) = boost(&data, y, &all, &[], base, params, params.max_rounds.max(1));
        return GbmModel::new(base, trees);
    }
    let k = (1.0 / params.validation_share.clamp(0.05, 0.5)).round() as usize;
    let folds = stratified_folds(y, k, seed);
    let (valid, fit): (Vec<u32>, Vec<u32>) =
        (0..y.len() as u32).partition(|&r| folds[r as usize] == 0);
    let (_, best) = boost(
        &data,
        y,
        &fit,
        &valid,
        base_of(&fit),
        params,
        params.max_rounds,
    );
    let rounds = (best as f64 * all.len() as f64 / fit.len().max(1) as f64).ceil() as usize;
    let base = base_of(&all);
    let (trees, _) = boost(&data, y, &all, &[], base, params, rounds);
    GbmModel::new(base, trees)
}

/// One classification tree (CART with the Gini criterion): with a constant starting
/// probability every row has the same hessian, so the Newton gain of a single unshrunk
/// round is the Gini impurity decrease. Node values are placeholders; the caller sets
/// them from the rows that reach each node.
pub fn fit_cart(x: ArrayView2<f64>, y: &[bool], max_depth: usize, min_leaf: usize) -> FlatTree {
    let data = Binned::new(x, 64);
    let rate = y.iter().filter(|&&y| y).count() as f64 / y.len().max(1) as f64;
    let grad: Vec<f64> = y.iter().map(|&y| rate - f64::from(u8::from(y))).collect();
    let hess = vec![(rate * (1.0 - rate)).max(1e-12); y.len()];
    let params = GbmParams {
        learning_rate: 1.0,
        max_depth,
        min_leaf: min_leaf.max(1),
        lambda: 1e-9,
        ..GbmParams::default()
    };
    let mut grower = Grower {
        data: &data,
        grad: &grad,
        hess: &hess,
        params: &params,
        nodes: Vec::new(),
    };
    let mut rows: Vec<u32> = (0..y.len() as u32).collect();
    let hist = grower.histogram(&rows);
    grower.grow(&mut rows, hist, 0);
    FlatTree {
        nodes: grower.nodes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Any data: probabilities stay in [0, 1] and path contributions add up exactly.
        #[test]
        fn contributions_add_up_and_probabilities_are_bounded(
            cells in prop::collection::vec(-3.0f64..3.0, 60..240),
            flips in prop::collection::vec(any::<bool>(), 60),
            depth in 1usize..5,
        ) {
            let rows = cells.len() / 3;
            let x = Array2::from_shape_fn((rows, 3), |(r, c)| cells[r * 3 + c]);
            let y: Vec<bool> = (0..rows).map(|r| (x[(r, 0)] > 0.0) ^ flips[r % 60]).collect();
            prop_assume!(y.iter().any(|&v| v) && y.iter().any(|&v| !v));
            let params = GbmParams { max_depth: depth, min_leaf: 3, max_rounds: 30, ..GbmParams::default() };
            let model = fit_gbm(x.view(), &y, &params, 3);
            for r in 0..rows {
                let row = x.row(r).to_vec();
                let z = model.log_odds(&row);
                for method in [ReasonMethod::TreeShap, ReasonMethod::Path] {
                    let mut out = [0.0; 3];
                    let bias = model.contributions(&row, &mut out, method);
                    prop_assert!((bias + out.iter().sum::<f64>() - z).abs() < 1e-9);
                }
                let p = sigmoid(z);
                prop_assert!((0.0..=1.0).contains(&p));
            }
        }
    }

    #[test]
    fn edges_cover_every_value() {
        let (edges, cuts) = bin_edges((0..1000).map(f64::from), 10);
        assert_eq!(edges.len(), 10);
        assert_eq!(*edges.last().unwrap(), 999.0);
        assert_eq!(cuts[0], edges[0] + 0.5);
        let (edges, cuts) = bin_edges([1.0, 0.0, 1.0].into_iter(), 10);
        assert_eq!((edges, cuts), (vec![0.0, 1.0], vec![0.5, 1.0]));
    }

    #[test]
    fn learns_a_threshold_and_attributes_it() {
        let x = Array2::from_shape_fn(
            (400, 2),
            |(r, c)| if c == 0 { r as f64 } else { (r % 7) as f64 },
        );
        let y: Vec<bool> = (0..400).map(|r| r >= 200).collect();
        let model = fit_gbm(x.view(), &y, &GbmParams::default(), 1);
        let low = model.log_odds(&[10.0, 3.0]);
        let high = model.log_odds(&[390.0, 3.0]);
        assert!(high > 1.0 && low < -1.0, "{low} {high}");
        let mut out = [0.0; 2];
        let bias = model.contributions(&[390.0, 3.0], &mut out, ReasonMethod::TreeShap);
        assert!((bias + out[0] + out[1] - high).abs() < 1e-9);
        assert!(out[0] > out[1].abs());
    }
}
