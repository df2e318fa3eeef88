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
use crate::models::stats::softplus;
use ndarray::ArrayView2;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
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
    /// Leaf-wise growth: split the leaf with the largest gain first, up to this many
    /// leaves per tree (still no deeper than `max_depth`); 0 grows level by level.
    pub max_leaves: usize,
    /// Share of the training rows each tree is grown on (a fresh random draw per round);
    /// 1 uses every row.
    pub row_share: f64,
    /// Share of the features each tree may split on (a fresh draw per tree); 1 uses all.
    pub feature_share: f64,
    /// Gradient-based one-side sampling (GOSS, as in LightGBM) when a booster has at least
    /// this many training rows (0: never): after the first 1 / `learning_rate` rounds,
    /// each tree is grown on the `goss_top_share` of rows with the largest gradients and
    /// a random `goss_other_share` of all rows drawn from the rest, weighted up to stand
    /// for the rest. It replaces `row_share` there.
    pub goss_min_rows: usize,
    pub goss_top_share: f64,
    pub goss_other_share: f64,
}

impl Default for GbmParams {
    fn default() -> Self {
        GbmParams {
            learning_rate: 0.1,
            max_depth: 3,
            min_leaf: 20,
            lambda: 1.0,
            max_rounds: 150,
            early_stopping_rounds: 20,
            validation_share: 0.15,
            max_bins: 64,
            max_leaves: 0,
            row_share: 0.8,
            feature_share: 0.8,
            goss_min_rows: 100_000,
            goss_top_share: 0.2,
            goss_other_share: 0.1,
        }
    }
}

impl GbmParams {
    /// Whether a booster over `rows` training rows grows tree number `round` (from 0) on
    /// a GOSS draw. The first rounds see ordinary draws: every gradient is still large.
    fn goss_at(&self, rows: usize, round: usize) -> bool {
        let warm_up = (1.0 / self.learning_rate.max(1e-3)).ceil() as usize;
        self.goss_min_rows > 0
            && rows >= self.goss_min_rows
            && round >= warm_up
            && self.goss_top_share > 0.0
            && self.goss_other_share > 0.0
            && self.goss_top_share + self.goss_other_share < 1.0
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

/// Where each feature's bins end, fitted on training rows: the cut after each bin lies
/// halfway between its largest value and the next bin's smallest, so a value scored later
/// never sits on a threshold by a rounding error. A value's bin is the first whose cut is
/// at or above it: for any rows, binned or raw, `bin <= b` exactly when `value <= cut[b]`,
/// so held-out rows can be scored on their bins with the answers of the fitted trees.
pub struct BinCuts {
    /// The most bins a feature may have (what the cuts were fitted with).
    max_bins: usize,
    cuts: Vec<Vec<f64>>,
    /// Start of each feature's block in a histogram.
    offsets: Vec<usize>,
    slots: usize,
}

impl BinCuts {
    pub fn fit(x: ArrayView2<f64>, max_bins: usize) -> BinCuts {
        let max_bins = max_bins.clamp(2, 256);
        // One sort per feature, features on all cores (the cuts do not depend on threads).
        let cuts: Vec<Vec<f64>> = (0..x.ncols())
            .into_par_iter()
            .map(|f| bin_edges(x.column(f).iter().copied(), max_bins).1)
            .collect();
        let mut offsets = Vec::with_capacity(cuts.len());
        let mut slots = 0;
        for feature in &cuts {
            offsets.push(slots);
            slots += feature.len();
        }
        BinCuts {
            max_bins,
            cuts,
            offsets,
            slots,
        }
    }

    fn width(&self) -> usize {
        self.cuts.len()
    }

    /// Every row's bins, row-major (parts of the rows on all cores).
    pub fn bin(&self, x: ArrayView2<f64>) -> BinnedRows {
        let width = self.width();
        let mut bins = vec![0u8; x.nrows() * width];
        bins.par_chunks_mut(width.max(1) * 4096)
            .enumerate()
            .for_each(|(part, out)| {
                let first = part * 4096;
                for (i, row_bins) in out.chunks_mut(width.max(1)).enumerate() {
                    let row = x.row(first + i);
                    for ((bin, &v), cuts) in row_bins.iter_mut().zip(row.iter()).zip(&self.cuts) {
                        *bin = cuts.partition_point(|&c| c < v).min(cuts.len() - 1) as u8;
                    }
                }
            });
        BinnedRows { bins, width }
    }
}

/// Bins of a set of rows, row-major: one row's bins are `width` adjacent bytes, which is
/// what building a histogram over a node's rows reads.
pub struct BinnedRows {
    bins: Vec<u8>,
    width: usize,
}

impl BinnedRows {
    fn row(&self, r: usize) -> &[u8] {
        &self.bins[r * self.width..(r + 1) * self.width]
    }

    fn select(&self, rows: &[u32]) -> BinnedRows {
        let mut bins = Vec::with_capacity(rows.len() * self.width);
        for &r in rows {
            bins.extend_from_slice(self.row(r as usize));
        }
        BinnedRows {
            bins,
            width: self.width,
        }
    }
}

/// Bin upper edges (distinct values when there are few, else quantiles; the last is the
/// maximum) and the cut after each bin (midway to the next distinct value).
fn bin_edges(values: impl Iterator<Item = f64>, max_bins: usize) -> (Vec<f64>, Vec<f64>) {
    let mut sorted: Vec<f64> = values.collect();
    sorted.sort_unstable_by(f64::total_cmp);
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
    if edges.is_empty() {
        return (vec![0.0], vec![0.0]);
    }
    let cuts = edges
        .iter()
        .map(|&e| {
            let next = distinct.partition_point(|&v| v <= e);
            distinct.get(next).map_or(e, |&n| e + (n - e) / 2.0)
        })
        .collect();
    (edges, cuts)
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Slot {
    g: f64,
    h: f64,
    n: u32,
}

/// Rows per part when a histogram is built on several cores. Parts depend on the row
/// count only, never on the number of threads, so sums (and models) are the same on
/// one core or many.
const PART_ROWS: usize = 16_384;

/// Gradient/hessian histogram of `rows`: parts built in parallel, added in order.
fn histogram(
    cuts: &BinCuts,
    data: &BinnedRows,
    grad: &[f64],
    hess: &[f64],
    rows: &[u32],
) -> Vec<Slot> {
    let fill = |rows: &[u32]| {
        let mut hist = vec![Slot::default(); cuts.slots];
        for &r in rows {
            let r = r as usize;
            let (g, h) = (grad[r], hess[r]);
            for (&bin, &offset) in data.row(r).iter().zip(&cuts.offsets) {
                let slot = &mut hist[offset + bin as usize];
                slot.g += g;
                slot.h += h;
                slot.n += 1;
            }
        }
        hist
    };
    if rows.len() < 2 * PART_ROWS {
        return fill(rows);
    }
    let parts: Vec<Vec<Slot>> = rows.par_chunks(PART_ROWS).map(fill).collect();
    let mut parts = parts.into_iter();
    let mut hist = parts.next().unwrap_or_default();
    for part in parts {
        for (total, slot) in hist.iter_mut().zip(part) {
            total.g += slot.g;
            total.h += slot.h;
            total.n += slot.n;
        }
    }
    hist
}

/// The parent's histogram minus one child's: the other child's, without reading its rows.
fn subtract(parent: &[Slot], child: &[Slot]) -> Vec<Slot> {
    parent
        .iter()
        .zip(child)
        .map(|(p, c)| Slot {
            g: p.g - c.g,
            h: p.h - c.h,
            n: p.n - c.n,
        })
        .collect()
}

struct Split {
    feature: usize,
    bin: usize,
    gain: f64,
    /// Gradient and hessian sums of the rows going left, then right.
    sums: [(f64, f64); 2],
}

struct Grower<'a> {
    cuts: &'a BinCuts,
    data: &'a BinnedRows,
    grad: &'a [f64],
    hess: &'a [f64],
    params: &'a GbmParams,
    /// Features this tree may split on (all when empty).
    features: &'a [bool],
    nodes: Vec<Node>,
    /// Each leaf's rows as a range of the grown row list, and its value.
    leaves: Vec<(std::ops::Range<usize>, f64)>,
}

/// A leaf that may still be split: its rows, histogram and best split.
struct OpenLeaf {
    node: u32,
    rows: std::ops::Range<usize>,
    hist: Vec<Slot>,
    depth: usize,
    split: Split,
}

impl Grower<'_> {
    fn value(&self, g: f64, h: f64) -> f64 {
        -g / (h + self.params.lambda) * self.params.learning_rate
    }

    fn best_split(&self, hist: &[Slot], g: f64, h: f64, n: u32) -> Option<Split> {
        let lambda = self.params.lambda;
        let min_leaf = self.params.min_leaf as u32;
        let parent = g * g / (h + lambda);
        let mut best: Option<Split> = None;
        for f in 0..self.cuts.width() {
            if !self.features.is_empty() && !self.features[f] {
                continue;
            }
            let block = &hist[self.cuts.offsets[f]..][..self.cuts.cuts[f].len()];
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
                        sums: [(gl, hl), (gr, hr)],
                    });
                }
            }
        }
        best
    }

    /// Grow the tree over `rows`, reordered in place so each leaf's rows are adjacent.
    /// Level by level every leaf that can be split is; leaf-wise (`max_leaves` > 0) the
    /// leaf with the largest gain is split next until the tree has `max_leaves` leaves.
    fn grow_tree(&mut self, rows: &mut [u32]) {
        let hist = histogram(self.cuts, self.data, self.grad, self.hess, rows);
        let mut open = Vec::new();
        self.add_leaf(&mut open, 0..rows.len(), hist, 0);
        let max_leaves = match self.params.max_leaves {
            0 => usize::MAX,
            n => n.max(2),
        };
        let mut leaves = 1;
        while leaves < max_leaves {
            let Some(at) = self.next_to_split(&open) else {
                break;
            };
            let leaf = open.swap_remove(at);
            self.split(&mut open, rows, leaf);
            leaves += 1;
        }
        for leaf in open {
            let value = self.nodes[leaf.node as usize].value;
            self.leaves.push((leaf.rows, value));
        }
    }

    /// Which open leaf to split: the largest gain (ties to the earlier node) leaf-wise,
    /// any (the last) level by level, where every one is split anyway.
    fn next_to_split(&self, open: &[OpenLeaf]) -> Option<usize> {
        if self.params.max_leaves == 0 {
            return open.len().checked_sub(1);
        }
        (0..open.len()).max_by(|&a, &b| {
            let (a, b) = (&open[a], &open[b]);
            a.split
                .gain
                .total_cmp(&b.split.gain)
                .then(b.node.cmp(&a.node))
        })
    }

    /// A new leaf node over `rows`: kept open if it may be split, else finished.
    fn add_leaf(
        &mut self,
        open: &mut Vec<OpenLeaf>,
        rows: std::ops::Range<usize>,
        hist: Vec<Slot>,
        depth: usize,
    ) -> u32 {
        // Any feature's block sums to the node's totals.
        let block = &hist[..self.cuts.cuts.first().map_or(0, Vec::len)];
        let (g, h) = block
            .iter()
            .fold((0.0, 0.0), |(g, h), s| (g + s.g, h + s.h));
        let (node, value) = self.push_leaf(rows.len(), g, h);
        let split = match depth < self.params.max_depth {
            true => self.best_split(&hist, g, h, rows.len() as u32),
            false => None,
        };
        match split {
            Some(split) => open.push(OpenLeaf {
                node,
                rows,
                hist,
                depth,
                split,
            }),
            None => self.leaves.push((rows, value)),
        }
        node
    }

    /// A leaf node over `count` rows with these gradient sums: (node, value).
    fn push_leaf(&mut self, count: usize, g: f64, h: f64) -> (u32, f64) {
        let node = self.nodes.len() as u32;
        let value = self.value(g, h);
        self.nodes.push(Node {
            cover: count as f64,
            ..Node::leaf(value)
        });
        (node, value)
    }

    /// Split an open leaf: its rows are partitioned, the smaller child's histogram is
    /// built and the larger one's is the parent's minus it. Children at the greatest
    /// depth are never split, so they get no histograms: their values come from the
    /// split's own sums.
    fn split(&mut self, open: &mut Vec<OpenLeaf>, rows: &mut [u32], leaf: OpenLeaf) {
        let OpenLeaf {
            node,
            rows: range,
            hist,
            depth,
            split,
        } = leaf;
        let data = self.data;
        let goes_left = |r: u32| data.row(r as usize)[split.feature] as usize <= split.bin;
        let mid = range.start + partition(&mut rows[range.clone()], goes_left);
        let (left_rows, right_rows) = (range.start..mid, mid..range.end);
        if depth + 1 >= self.params.max_depth {
            let mut child = |rows: std::ops::Range<usize>, (g, h): (f64, f64)| {
                let (node, value) = self.push_leaf(rows.len(), g, h);
                self.leaves.push((rows, value));
                node
            };
            let [left_sums, right_sums] = split.sums;
            let (left, right) = (child(left_rows, left_sums), child(right_rows, right_sums));
            self.link(node, &split, left, right);
            return;
        }
        let small_is_left = left_rows.len() <= right_rows.len();
        let small_rows = if small_is_left {
            left_rows.clone()
        } else {
            right_rows.clone()
        };
        let small = histogram(self.cuts, data, self.grad, self.hess, &rows[small_rows]);
        let large = subtract(&hist, &small);
        drop(hist);
        let (left_hist, right_hist) = if small_is_left {
            (small, large)
        } else {
            (large, small)
        };
        let left = self.add_leaf(open, left_rows, left_hist, depth + 1);
        let right = self.add_leaf(open, right_rows, right_hist, depth + 1);
        self.link(node, &split, left, right);
    }

    /// Make leaf `node` a split on `split` with these children.
    fn link(&mut self, node: u32, split: &Split, left: u32, right: u32) {
        let parent = &mut self.nodes[node as usize];
        parent.feature = split.feature as u32;
        parent.threshold = self.cuts.cuts[split.feature][split.bin];
        parent.left = left;
        parent.right = right;
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

/// Summed log loss of log-odds `f` (divide by the row count for the mean).
#[cfg(test)]
fn log_loss_sum(y: &[bool], f: &[f64]) -> f64 {
    y.iter()
        .zip(f)
        .map(|(&y, &z)| softplus(if y { -z } else { z }))
        .sum()
}

/// Summed cross-entropy of log-odds `f` against targets in [0, 1] (0/1 labels give the
/// log loss).
fn cross_entropy_sum(t: &[f64], f: &[f64]) -> f64 {
    t.iter()
        .zip(f)
        .map(|(&t, &z)| t * softplus(-z) + (1.0 - t) * softplus(z))
        .sum()
}

/// Held-out rows whose log-odds are kept up to date tree by tree (each new tree's output
/// is added; earlier trees are never walked again).
struct Validation {
    data: BinnedRows,
    y: Vec<f64>,
    scores: Vec<f64>,
    /// The scores after the best round so far.
    best: Vec<f64>,
}

/// What a booster minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Cross-entropy of targets in [0, 1]: the model's output is log-odds.
    CrossEntropy,
    /// Squared error of any real target: the model's output is the target's estimate
    /// (every hessian is 1, so a leaf's value is its rows' mean residual, shrunk).
    Squared,
}

impl Loss {
    /// The starting output for targets whose mean is `mean`.
    fn base(self, mean: f64) -> f64 {
        match self {
            Loss::CrossEntropy => super::calibration::logit(mean),
            Loss::Squared => mean,
        }
    }

    /// Summed loss of outputs `f` against targets `t`.
    fn sum(self, t: &[f64], f: &[f64]) -> f64 {
        match self {
            Loss::CrossEntropy => cross_entropy_sum(t, f),
            Loss::Squared => t.iter().zip(f).map(|(&t, &f)| (f - t) * (f - t)).sum(),
        }
    }
}

/// One boosting run over binned training rows.
struct Booster<'a> {
    cuts: &'a BinCuts,
    data: BinnedRows,
    /// Targets: in [0, 1] (0/1 labels, or probabilities for [`fit_gbm_targets`]) under
    /// cross-entropy, any real number under squared error.
    y: Vec<f64>,
    loss: Loss,
    base: f64,
    scores: Vec<f64>,
    grad: Vec<f64>,
    hess: Vec<f64>,
    trees: Vec<FlatTree>,
    valid: Option<Validation>,
    /// Draws the rows and features of each round.
    rng: Xoshiro256PlusPlus,
}

impl<'a> Booster<'a> {
    fn new(
        cuts: &'a BinCuts,
        data: BinnedRows,
        y: Vec<f64>,
        valid: Option<(BinnedRows, Vec<f64>)>,
        loss: Loss,
        seed: u64,
    ) -> Self {
        let mean = y.iter().sum::<f64>() / y.len().max(1) as f64;
        let base = loss.base(mean);
        let n = y.len();
        let valid = valid.map(|(data, y)| Validation {
            scores: vec![base; y.len()],
            best: vec![base; y.len()],
            data,
            y,
        });
        Booster {
            cuts,
            data,
            y,
            loss,
            base,
            scores: vec![base; n],
            grad: vec![0.0; n],
            hess: vec![0.0; n],
            trees: Vec::new(),
            valid,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
        }
    }

    fn add_tree(&mut self, params: &GbmParams) {
        let rows = self.grad.iter_mut().zip(&mut self.hess);
        let rows = rows.zip(&self.scores).zip(&self.y);
        match self.loss {
            Loss::CrossEntropy => rows.for_each(|(((g, h), &z), &y)| {
                let p = sigmoid(z);
                *g = p - y;
                *h = (p * (1.0 - p)).max(1e-12);
            }),
            Loss::Squared => rows.for_each(|(((g, h), &z), &y)| {
                *g = z - y;
                *h = 1.0;
            }),
        }
        let (mut rows, out_of_bag) = match params.goss_at(self.y.len(), self.trees.len()) {
            true => self.draw_goss(params.goss_top_share, params.goss_other_share),
            false => self.draw_rows(params.row_share),
        };
        let features = self.draw_features(params.feature_share);
        let mut grower = Grower {
            cuts: self.cuts,
            data: &self.data,
            grad: &self.grad,
            hess: &self.hess,
            params,
            features: &features,
            nodes: Vec::new(),
            leaves: Vec::new(),
        };
        grower.grow_tree(&mut rows);
        for (range, value) in &grower.leaves {
            for &r in &rows[range.clone()] {
                self.scores[r as usize] += value;
            }
        }
        let tree = FlatTree {
            nodes: grower.nodes,
        };
        for r in out_of_bag {
            let r = r as usize;
            self.scores[r] += predict_binned(&tree, self.cuts, self.data.row(r));
        }
        if let Some(valid) = &mut self.valid {
            for (r, score) in valid.scores.iter_mut().enumerate() {
                *score += predict_binned(&tree, self.cuts, valid.data.row(r));
            }
        }
        self.trees.push(tree);
    }

    /// The rows this round's tree is grown on, and the others (drawn from the booster's
    /// own generator, so the draw does not depend on the threads).
    fn draw_rows(&mut self, share: f64) -> (Vec<u32>, Vec<u32>) {
        let all = 0..self.y.len() as u32;
        if share >= 1.0 {
            return (all.collect(), Vec::new());
        }
        let share = share.max(0.01);
        all.partition(|_| self.rng.gen::<f64>() < share)
    }

    /// GOSS: the `top` share of rows by |gradient| (ties to the lower row), and from the
    /// others each with chance `other / (1 - top)`, their gradients and hessians scaled
    /// up by its inverse so histograms still estimate the sums over every row. Returns
    /// the rows in order, and the rows left out.
    fn draw_goss(&mut self, top: f64, other: f64) -> (Vec<u32>, Vec<u32>) {
        let n = self.y.len();
        let n_top = ((top * n as f64).ceil() as usize).clamp(1, n);
        let mut is_top = vec![false; n];
        {
            let grad = &self.grad;
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.select_nth_unstable_by(n_top - 1, |&a, &b| {
                let (ga, gb) = (grad[a as usize].abs(), grad[b as usize].abs());
                gb.total_cmp(&ga).then(a.cmp(&b))
            });
            for &r in &order[..n_top] {
                is_top[r as usize] = true;
            }
        }
        let keep = (other / (1.0 - top)).min(1.0);
        let weight = 1.0 / keep;
        let mut rows = Vec::with_capacity(n_top + (keep * (n - n_top) as f64) as usize + 16);
        let mut left_out = Vec::with_capacity(n - n_top);
        for (r, &top) in is_top.iter().enumerate() {
            if top {
                rows.push(r as u32);
            } else if self.rng.gen::<f64>() < keep {
                self.grad[r] *= weight;
                self.hess[r] *= weight;
                rows.push(r as u32);
            } else {
                left_out.push(r as u32);
            }
        }
        (rows, left_out)
    }

    /// Which features this round's tree may split on (empty: all of them).
    fn draw_features(&mut self, share: f64) -> Vec<bool> {
        let width = self.cuts.width();
        if share >= 1.0 || width < 2 {
            return Vec::new();
        }
        let keep = ((share * width as f64).ceil() as usize).clamp(1, width);
        let mut allowed = vec![false; width];
        for f in rand::seq::index::sample(&mut self.rng, width, keep) {
            allowed[f] = true;
        }
        allowed
    }

    /// Summed validation loss now (0 without validation rows).
    fn valid_loss(&self) -> f64 {
        self.valid
            .as_ref()
            .map_or(0.0, |v| self.loss.sum(&v.y, &v.scores))
    }

    fn keep_best(&mut self) {
        if let Some(v) = &mut self.valid {
            v.best.copy_from_slice(&v.scores);
        }
    }
}

/// Add trees to every booster in step (the boosters on all cores) until their pooled
/// validation loss has not improved for `early_stopping_rounds` rounds, or for exactly
/// `rounds` rounds without validation. Returns the best round count; each booster keeps
/// that many trees and its validation scores after them.
fn boost_in_step(boosters: &mut [Booster], params: &GbmParams, rounds: usize) -> usize {
    let validated = boosters.iter().any(|b| b.valid.is_some()) && params.early_stopping_rounds > 0;
    let (mut best_loss, mut best_rounds) = (f64::INFINITY, 0);
    for round in 0..rounds.max(1) {
        boosters.par_iter_mut().for_each(|b| b.add_tree(params));
        if !validated {
            best_rounds = round + 1;
            continue;
        }
        let loss: f64 = boosters.iter().map(Booster::valid_loss).sum();
        if loss < best_loss * (1.0 - 1e-7) {
            (best_loss, best_rounds) = (loss, round + 1);
            boosters.iter_mut().for_each(Booster::keep_best);
        } else if round + 1 - best_rounds >= params.early_stopping_rounds {
            break;
        }
    }
    let best_rounds = best_rounds.max(1);
    for b in boosters.iter_mut() {
        b.trees.truncate(best_rounds);
        if let (Some(v), false) = (&mut b.valid, validated) {
            v.best.copy_from_slice(&v.scores);
        }
    }
    best_rounds
}

/// A tree's output for one binned row (exact: see [`BinCuts`]).
fn predict_binned(tree: &FlatTree, cuts: &BinCuts, row: &[u8]) -> f64 {
    let mut at = 0;
    loop {
        let node = &tree.nodes[at];
        if node.is_leaf() {
            return node.value;
        }
        let f = node.feature as usize;
        at = if cuts.cuts[f][row[f] as usize] <= node.threshold {
            node.left
        } else {
            node.right
        } as usize;
    }
}

/// Fit on every row: choose the number of rounds by early stopping on a stratified
/// inner split, then boost that many rounds (scaled up for the extra rows) on all rows.
pub fn fit_gbm(x: ArrayView2<f64>, y: &[bool], params: &GbmParams, seed: u64) -> GbmModel {
    let targets: Vec<f64> = y.iter().map(|&y| f64::from(u8::from(y))).collect();
    fit_gbm_targets(x, &targets, params, seed)
}

/// [`fit_gbm`] on targets in [0, 1] (cross-entropy loss, so the model's probability
/// estimates the target's mean); the inner split is stratified by target above 1/2.
pub fn fit_gbm_targets(x: ArrayView2<f64>, y: &[f64], params: &GbmParams, seed: u64) -> GbmModel {
    let cuts = BinCuts::fit(x, params.max_bins);
    let data = cuts.bin(x);
    let fit_all = |data: BinnedRows, rounds: usize| {
        boost_all(&cuts, data, y, Loss::CrossEntropy, params, rounds, seed)
    };
    if params.early_stopping_rounds == 0 {
        return fit_all(data, params.max_rounds);
    }
    let k = (1.0 / params.validation_share.clamp(0.05, 0.5)).round() as usize;
    let high: Vec<bool> = y.iter().map(|&t| t > 0.5).collect();
    let folds = stratified_folds(&high, k, seed);
    let (valid, fit): (Vec<u32>, Vec<u32>) =
        (0..y.len() as u32).partition(|&r| folds[r as usize] == 0);
    let labels = |rows: &[u32]| rows.iter().map(|&r| y[r as usize]).collect::<Vec<_>>();
    let mut inner = [Booster::new(
        &cuts,
        data.select(&fit),
        labels(&fit),
        Some((data.select(&valid), labels(&valid))),
        Loss::CrossEntropy,
        seed,
    )];
    let best = boost_in_step(&mut inner, params, params.max_rounds);
    drop(inner);
    let rounds = (best as f64 * y.len() as f64 / fit.len().max(1) as f64).ceil() as usize;
    fit_all(data, rounds)
}

/// A GBM of `loss` early-stopped on the caller's validation rows (binned on the training
/// rows' cuts), without the refit: the model after the best round, and that round count.
pub fn fit_gbm_validated(
    x: ArrayView2<f64>,
    y: &[f64],
    (x_valid, y_valid): (ArrayView2<f64>, &[f64]),
    loss: Loss,
    params: &GbmParams,
    seed: u64,
) -> (GbmModel, usize) {
    let cuts = BinCuts::fit(x, params.max_bins);
    let valid = Some((cuts.bin(x_valid), y_valid.to_vec()));
    let mut booster = [Booster::new(
        &cuts,
        cuts.bin(x),
        y.to_vec(),
        valid,
        loss,
        seed,
    )];
    let rounds = boost_in_step(&mut booster, params, params.max_rounds);
    let [booster] = booster;
    (GbmModel::new(booster.base, booster.trees), rounds)
}

/// A GBM of `loss` boosted for exactly `params.max_rounds` rounds on every row.
pub fn fit_gbm_rounds(
    x: ArrayView2<f64>,
    y: &[f64],
    loss: Loss,
    params: &GbmParams,
    seed: u64,
) -> GbmModel {
    let cuts = BinCuts::fit(x, params.max_bins);
    boost_all(&cuts, cuts.bin(x), y, loss, params, params.max_rounds, seed)
}

/// `rounds` trees on every row of `data`: without validation rows nothing stops early.
fn boost_all(
    cuts: &BinCuts,
    data: BinnedRows,
    y: &[f64],
    loss: Loss,
    params: &GbmParams,
    rounds: usize,
    seed: u64,
) -> GbmModel {
    let mut booster = [Booster::new(cuts, data, y.to_vec(), None, loss, seed)];
    boost_in_step(&mut booster, params, rounds);
    let [booster] = booster;
    GbmModel::new(booster.base, booster.trees)
}

/// One cross-validation fold of the GBM candidate: its training rows binned on their own
/// cuts and its held-out rows binned on the same cuts.
pub struct GbmFold {
    cuts: BinCuts,
    train: BinnedRows,
    y_train: Vec<bool>,
    test: BinnedRows,
    y_test: Vec<bool>,
}

impl GbmFold {
    pub fn new(
        x_train: ArrayView2<f64>,
        y_train: &[bool],
        x_test: ArrayView2<f64>,
        y_test: &[bool],
        params: &GbmParams,
    ) -> GbmFold {
        GbmFold::from_training(x_train, y_train, params).with_held_out(x_test, y_test)
    }

    /// The training rows binned on their own cuts, held-out rows still to come: the caller
    /// can let go of the training matrix before it builds the held-out one.
    pub fn from_training(
        x_train: ArrayView2<f64>,
        y_train: &[bool],
        params: &GbmParams,
    ) -> GbmFold {
        let cuts = BinCuts::fit(x_train, params.max_bins);
        GbmFold {
            train: cuts.bin(x_train),
            test: BinnedRows {
                bins: Vec::new(),
                width: cuts.width(),
            },
            cuts,
            y_train: y_train.to_vec(),
            y_test: Vec::new(),
        }
    }

    /// [`fit_cart`] on this fold's training rows without binning them again, when the
    /// fold's bins are the ones it would make (the GBM's `max_bins` is [`CART_BINS`]).
    pub fn fit_cart(&self, max_depth: usize, min_leaf: usize) -> Option<FlatTree> {
        (self.cuts.max_bins == CART_BINS)
            .then(|| grow_cart(&self.cuts, &self.train, &self.y_train, max_depth, min_leaf))
    }

    /// The held-out rows, binned on the training rows' cuts.
    pub fn with_held_out(mut self, x_test: ArrayView2<f64>, y_test: &[bool]) -> GbmFold {
        self.test = self.cuts.bin(x_test);
        self.y_test = y_test.to_vec();
        self
    }
}

/// Boost every fold in step, as LightGBM's `cv` does: the round count is where the
/// summed held-out log loss of all folds stops improving (or `max_rounds` without early
/// stopping). Returns that count and each fold's held-out log-odds after it.
pub fn cross_validate_rounds(folds: Vec<GbmFold>, params: &GbmParams) -> (usize, Vec<Vec<f64>>) {
    let (cuts, rows): (Vec<BinCuts>, Vec<_>) = folds
        .into_iter()
        .map(|f| (f.cuts, (f.train, f.y_train, f.test, f.y_test)))
        .unzip();
    let mut boosters: Vec<Booster> = cuts
        .iter()
        .zip(rows)
        .enumerate()
        .map(|(fold, (cuts, (train, y, test, y_test)))| {
            Booster::new(
                cuts,
                train,
                as_targets(&y),
                Some((test, as_targets(&y_test))),
                Loss::CrossEntropy,
                fold as u64,
            )
        })
        .collect();
    let rounds = boost_in_step(&mut boosters, params, params.max_rounds);
    let held_out = boosters
        .into_iter()
        .map(|b| b.valid.map(|v| v.best).unwrap_or_default())
        .collect();
    (rounds, held_out)
}

fn as_targets(y: &[bool]) -> Vec<f64> {
    y.iter().map(|&y| f64::from(u8::from(y))).collect()
}

/// How many bins [`fit_cart`] grows on.
pub const CART_BINS: usize = 64;

/// One classification tree (CART with the Gini criterion): with a constant starting
/// probability every row has the same hessian, so the Newton gain of a single unshrunk
/// round is the Gini impurity decrease. Node values are placeholders; the caller sets
/// them from the rows that reach each node.
pub fn fit_cart(x: ArrayView2<f64>, y: &[bool], max_depth: usize, min_leaf: usize) -> FlatTree {
    let cuts = BinCuts::fit(x, CART_BINS);
    let data = cuts.bin(x);
    grow_cart(&cuts, &data, y, max_depth, min_leaf)
}

/// [`fit_cart`] on rows already binned.
fn grow_cart(
    cuts: &BinCuts,
    data: &BinnedRows,
    y: &[bool],
    max_depth: usize,
    min_leaf: usize,
) -> FlatTree {
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
        cuts,
        data,
        grad: &grad,
        hess: &hess,
        params: &params,
        features: &[],
        nodes: Vec::new(),
        leaves: Vec::new(),
    };
    let mut rows: Vec<u32> = (0..y.len() as u32).collect();
    grower.grow_tree(&mut rows);
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

    fn random_data(rows: usize, width: usize, seed: u64) -> (Array2<f64>, Vec<bool>) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        let x = Array2::from_shape_fn((rows, width), |(_, c)| match c % 3 {
            0 => rng.gen_range(-3.0..3.0),
            1 => f64::from(rng.gen_range(0u8..5)),
            _ => rng.gen_range(0.0f64..1.0).powi(3) * 100.0,
        });
        let y = (0..rows)
            .map(|r| x[(r, 0)] + 0.3 * x[(r, 1)] > rng.gen_range(-1.0..2.0))
            .collect();
        (x, y)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// The larger child's histogram by subtraction equals the one built from its rows
        /// (counts exactly, sums to rounding), on either side of any split.
        #[test]
        fn subtraction_equals_a_direct_histogram(
            seed in 0u64..1000,
            rows in 50usize..3000,
            feature in 0usize..4,
            bin in 0usize..8,
        ) {
            let (x, y) = random_data(rows, 4, seed);
            let cuts = BinCuts::fit(x.view(), 16);
            let data = cuts.bin(x.view());
            let grad: Vec<f64> = y.iter().map(|&c| if c { -0.7 } else { 0.3 }).collect();
            let hess = vec![0.21; rows];
            let all: Vec<u32> = (0..rows as u32).collect();
            let (left, right): (Vec<u32>, Vec<u32>) =
                all.iter().partition(|&&r| data.row(r as usize)[feature] as usize <= bin);
            let parent = histogram(&cuts, &data, &grad, &hess, &all);
            for (child, other) in [(&left, &right), (&right, &left)] {
                let direct = histogram(&cuts, &data, &grad, &hess, other);
                let by_subtraction = subtract(&parent, &histogram(&cuts, &data, &grad, &hess, child));
                for (a, b) in direct.iter().zip(&by_subtraction) {
                    prop_assert_eq!(a.n, b.n);
                    prop_assert!((a.g - b.g).abs() < 1e-9 && (a.h - b.h).abs() < 1e-9);
                }
            }
        }

        /// A held-out row's trees on its bins (cuts of the training rows) give exactly
        /// what the fitted trees give on its raw values.
        #[test]
        fn binned_held_out_rows_score_as_raw_values(seed in 0u64..1000) {
            let (x, y) = random_data(600, 3, seed);
            let (x_test, _) = random_data(200, 3, seed + 1);
            prop_assume!(y.iter().any(|&v| v) && y.iter().any(|&v| !v));
            let params = GbmParams { max_rounds: 15, early_stopping_rounds: 0, min_leaf: 5, ..GbmParams::default() };
            let model = fit_gbm(x.view(), &y, &params, 1);
            let cuts = BinCuts::fit(x.view(), params.max_bins);
            let test = cuts.bin(x_test.view());
            for r in 0..x_test.nrows() {
                let raw = x_test.row(r).to_vec();
                for tree in model.trees() {
                    prop_assert_eq!(predict_binned(tree, &cuts, test.row(r)), tree.predict(&raw));
                }
            }
        }
    }

    /// Squared error fits a real target: held-out rows end close to their own values,
    /// and a fixed-round fit has exactly its rounds.
    #[test]
    fn squared_error_fits_a_real_target() {
        let (x, _) = random_data(2000, 3, 4);
        let t: Vec<f64> = (x.column(0).iter())
            .map(|&v| (v / 3.0).clamp(-1.0, 1.0))
            .collect();
        let params = GbmParams {
            max_rounds: 300,
            row_share: 1.0,
            feature_share: 1.0,
            ..GbmParams::default()
        };
        let (train, valid) = (
            x.slice(ndarray::s![..1500, ..]),
            x.slice(ndarray::s![1500.., ..]),
        );
        let held = (valid, &t[1500..]);
        let (model, rounds) = fit_gbm_validated(train, &t[..1500], held, Loss::Squared, &params, 1);
        assert_eq!(model.trees().len(), rounds);
        let squared_error: f64 = (valid.rows().into_iter().zip(&t[1500..]))
            .map(|(row, &t)| (model.log_odds(&row.to_vec()) - t).powi(2))
            .sum();
        let mse = squared_error / 500.0;
        assert!(mse < 0.005, "held-out mean squared error {mse}");
        let fixed = GbmParams {
            max_rounds: 30,
            ..params
        };
        let model = fit_gbm_rounds(x.view(), &t, Loss::Squared, &fixed, 1);
        assert_eq!(model.trees().len(), 30);
    }

    fn leaf_count(tree: &FlatTree) -> usize {
        tree.nodes.iter().filter(|n| n.is_leaf()).count()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// Leaf-wise growth allowed 2^depth leaves makes every split level-by-level growth
        /// makes, so the two predict the same; a smaller cap bounds every tree.
        #[test]
        fn leaf_wise_with_room_for_every_leaf_equals_depth_wise(
            seed in 0u64..1000,
            depth in 1usize..5,
            cap in 2usize..12,
        ) {
            let (x, y) = random_data(800, 4, seed);
            prop_assume!(y.iter().any(|&v| v) && y.iter().any(|&v| !v));
            let level = GbmParams { max_depth: depth, min_leaf: 5, max_rounds: 10, early_stopping_rounds: 0, ..GbmParams::default() };
            let leaf_wise = GbmParams { max_leaves: 1 << depth, ..level.clone() };
            let (a, b) = (fit_gbm(x.view(), &y, &level, 1), fit_gbm(x.view(), &y, &leaf_wise, 1));
            for r in 0..x.nrows() {
                let row = x.row(r).to_vec();
                prop_assert!((a.log_odds(&row) - b.log_odds(&row)).abs() < 1e-12);
            }
            let capped = GbmParams { max_leaves: cap, max_depth: 16, ..level };
            let model = fit_gbm(x.view(), &y, &capped, 1);
            prop_assert!(model.trees().iter().all(|t| leaf_count(t) <= cap));
        }
    }

    /// Leaf-wise, the split made is always the best open one: a tree capped at n + 1
    /// leaves is the tree capped at n with one more split.
    #[test]
    fn each_extra_leaf_adds_one_split_to_the_same_tree() {
        let (x, y) = random_data(3000, 5, 11);
        let tree = |leaves: usize| {
            let params = GbmParams {
                max_leaves: leaves,
                max_depth: 16,
                max_rounds: 1,
                early_stopping_rounds: 0,
                ..GbmParams::default()
            };
            fit_gbm(x.view(), &y, &params, 1).trees()[0].clone()
        };
        for leaves in 2..10 {
            let (small, large) = (tree(leaves), tree(leaves + 1));
            assert_eq!(leaf_count(&small), leaves);
            assert_eq!(leaf_count(&large), leaves + 1);
            let splits = |t: &FlatTree| {
                let mut s: Vec<(u32, u64)> = t
                    .nodes
                    .iter()
                    .filter(|n| !n.is_leaf())
                    .map(|n| (n.feature, n.threshold.to_bits()))
                    .collect();
                s.sort_unstable();
                s
            };
            let (a, b) = (splits(&small), splits(&large));
            assert!(a.iter().all(|s| b.contains(s)), "{leaves}: {a:?} {b:?}");
        }
    }

    /// Histogram parts depend on the row count, not the threads: one core and two give
    /// the same trees to the last bit, for a single fit and for folds boosted in step.
    #[test]
    fn one_thread_and_two_fit_the_same_model() {
        let (x, y) = random_data(3 * PART_ROWS, 6, 5);
        let level = GbmParams {
            max_rounds: 40,
            ..GbmParams::default()
        };
        let sampled = GbmParams {
            max_leaves: 6,
            row_share: 0.7,
            feature_share: 0.6,
            ..level.clone()
        };
        let goss = GbmParams {
            goss_min_rows: 1_000,
            ..level.clone()
        };
        for params in [level, sampled, goss] {
            one_and_two_threads_agree(&x, &y, &params);
        }
    }

    fn one_and_two_threads_agree(x: &Array2<f64>, y: &[bool], params: &GbmParams) {
        let params = params.clone();
        let fit = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool");
            pool.install(|| {
                let model = fit_gbm(x.view(), y, &params, 3);
                let half = x.nrows() / 2;
                let folds = (0..2)
                    .map(|k| {
                        let (a, b) = x.view().split_at(ndarray::Axis(0), half);
                        let (train, test) = if k == 0 { (a, b) } else { (b, a) };
                        let (y_train, y_test) = match k {
                            0 => (&y[..half], &y[half..]),
                            _ => (&y[half..], &y[..half]),
                        };
                        GbmFold::new(train, y_train, test, y_test, &params)
                    })
                    .collect();
                (model, cross_validate_rounds(folds, &params))
            })
        };
        let (one, two) = (fit(1), fit(2));
        assert!(one.0.trees().len() > 1);
        assert_eq!(one, two);
    }

    /// GOSS keeps every row of the top share by |gradient|, about the asked share of the
    /// rest scaled up by its inverse chance, and leaves the others out untouched.
    #[test]
    fn goss_keeps_the_largest_gradients_and_reweights_a_sample_of_the_rest() {
        let (x, y) = random_data(20_000, 3, 4);
        let cuts = BinCuts::fit(x.view(), 64);
        let mut booster = Booster::new(
            &cuts,
            cuts.bin(x.view()),
            as_targets(&y),
            None,
            Loss::CrossEntropy,
            8,
        );
        let grad: Vec<f64> = (0..y.len())
            .map(|r| ((r * 7919) % 1000) as f64 / 1000.0 - 0.5)
            .collect();
        booster.grad.clone_from(&grad);
        booster.hess = vec![0.25; y.len()];
        let (rows, left_out) = booster.draw_goss(0.2, 0.1);
        assert!(rows.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(rows.len() + left_out.len(), y.len());
        let mut by_size: Vec<f64> = grad.iter().map(|g| g.abs()).collect();
        by_size.sort_by(|a, b| b.total_cmp(a));
        let top_floor = by_size[4_000 - 1];
        let (mut top, mut rest) = (0, 0);
        for &r in &rows {
            let r = r as usize;
            if booster.hess[r] == 0.25 {
                assert!(grad[r].abs() >= top_floor && booster.grad[r] == grad[r]);
                top += 1;
            } else {
                assert!((booster.grad[r] - grad[r] * 8.0).abs() < 1e-12);
                assert!((booster.hess[r] - 2.0).abs() < 1e-12);
                rest += 1;
            }
        }
        assert_eq!(top, 4_000);
        assert!(
            (1_800..2_200).contains(&rest),
            "{rest} of the other rows drawn"
        );
        for &r in &left_out {
            assert!(grad[r as usize].abs() <= top_floor);
            assert_eq!(booster.hess[r as usize], 0.25);
        }
    }

    /// On a table large enough for GOSS, its model ranks held-out rows about as well as
    /// ordinary row draws, from far fewer rows per tree.
    #[test]
    fn goss_ranks_held_out_rows_as_well_as_full_draws() {
        let (x, y) = random_data(30_000, 6, 21);
        let (x_test, y_test) = random_data(10_000, 6, 22);
        let auc = |params: &GbmParams| {
            let model = fit_gbm(x.view(), &y, params, 5);
            let p: Vec<f64> = (0..x_test.nrows())
                .map(|r| model.log_odds(&x_test.row(r).to_vec()))
                .collect();
            super::super::cv::auc(&y_test, &p)
        };
        let full = auc(&GbmParams::default());
        let goss = auc(&GbmParams {
            goss_min_rows: 10_000,
            ..GbmParams::default()
        });
        assert!(goss > full - 0.005, "GOSS {goss} vs full draws {full}");
    }

    /// The tree candidate grown on a GBM fold's bins is the tree [`fit_cart`] grows.
    #[test]
    fn cart_on_a_folds_bins_is_the_cart_of_its_rows() {
        let (x, y) = random_data(5_000, 5, 13);
        let (x_test, y_test) = random_data(1_000, 5, 14);
        let fold = GbmFold::new(x.view(), &y, x_test.view(), &y_test, &GbmParams::default());
        assert_eq!(fold.fit_cart(6, 30), Some(fit_cart(x.view(), &y, 6, 30)));
        let other_bins = GbmParams {
            max_bins: 32,
            ..GbmParams::default()
        };
        let fold = GbmFold::new(x.view(), &y, x_test.view(), &y_test, &other_bins);
        assert_eq!(fold.fit_cart(6, 30), None);
    }

    #[test]
    fn folds_in_step_stop_where_the_held_out_loss_is_lowest() {
        let (x, y) = random_data(2000, 3, 9);
        let params = GbmParams {
            learning_rate: 0.3,
            min_leaf: 2,
            max_depth: 6,
            ..GbmParams::default()
        };
        let half = 1000;
        let fold = |train: std::ops::Range<usize>, test: std::ops::Range<usize>| {
            GbmFold::new(
                x.slice(ndarray::s![train.clone(), ..]),
                &y[train],
                x.slice(ndarray::s![test.clone(), ..]),
                &y[test],
                &params,
            )
        };
        let folds = vec![fold(0..half, half..2000), fold(half..2000, 0..half)];
        let (rounds, held_out) = cross_validate_rounds(folds, &params);
        assert!(rounds < params.max_rounds, "deep fast trees overfit early");
        let loss = |rounds: usize| {
            let fixed = GbmParams {
                max_rounds: rounds,
                early_stopping_rounds: 0,
                ..params.clone()
            };
            let folds = vec![fold(0..half, half..2000), fold(half..2000, 0..half)];
            let (_, scores) = cross_validate_rounds(folds, &fixed);
            log_loss_sum(&y[half..], &scores[0]) + log_loss_sum(&y[..half], &scores[1])
        };
        // The scores returned are those after the chosen round, and neighbours are worse.
        let chosen =
            log_loss_sum(&y[half..], &held_out[0]) + log_loss_sum(&y[..half], &held_out[1]);
        assert_eq!(chosen, loss(rounds));
        assert!(loss(rounds + 5) > chosen);
        if rounds > 1 {
            assert!(loss(rounds - 1) > chosen);
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
