//! Shallow trees re-laid out for fast scoring. Each tree is padded to a complete binary
//! tree of the forest's depth, with the children of node `i` at `2i + 1` and `2i + 2`:
//! every row then takes exactly `depth` steps per tree, and the step is arithmetic, not
//! a branch the CPU has to guess (on real customers about half the guesses were wrong,
//! and path attribution was the largest cost of a batch run).

use super::flat_tree::FlatTree;

/// Deeper trees are walked as they are: padding grows as 2^depth.
pub const MAX_DENSE_DEPTH: usize = 8;

#[derive(Debug, Clone, PartialEq)]
struct DenseNode {
    threshold: f64,
    /// Change in value when the row goes left / right (zero on both for padding).
    delta: [f64; 2],
    feature: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DenseForest {
    depth: usize,
    /// One more than the largest feature index split on: rows must be at least this wide.
    width: usize,
    nodes: Vec<DenseNode>,
    /// Value of each tree's leaf in complete-tree order (`2^depth` per tree).
    leaves: Vec<f64>,
    /// Sum of the root values: path attribution's bias.
    roots: f64,
}

impl DenseForest {
    /// `None` when a tree is deeper than [`MAX_DENSE_DEPTH`], the forest is empty, or a
    /// tree is malformed (the bundle loader reports that one; this runs before it).
    pub fn new(trees: &[FlatTree]) -> Option<DenseForest> {
        let depth = trees
            .iter()
            .map(|t| depth_of(t, 0, 0))
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .max()?;
        let internal = (1usize << depth) - 1;
        let width = trees
            .iter()
            .flat_map(|t| &t.nodes)
            .filter(|n| !n.is_leaf())
            .map(|n| n.feature as usize + 1)
            .max()
            .unwrap_or(0);
        let mut forest = DenseForest {
            depth,
            width,
            nodes: Vec::with_capacity(trees.len() * internal),
            leaves: Vec::with_capacity(trees.len() << depth),
            roots: trees.iter().map(|t| t.nodes[0].value).sum(),
        };
        for tree in trees {
            let start = forest.nodes.len();
            forest.nodes.resize(start + internal, PADDING);
            let leaves = forest.leaves.len();
            forest.leaves.resize(leaves + (1 << depth), 0.0);
            forest.place(tree, 0, 0, start, leaves);
        }
        Some(forest)
    }

    /// Copy `tree`'s node `from` (and its subtree) to complete-tree slot `slot`; a leaf
    /// above the last level fills its whole subtree with padding and copies of its value.
    fn place(&mut self, tree: &FlatTree, from: usize, slot: usize, start: usize, leaves: usize) {
        let internal = (1usize << self.depth) - 1;
        let node = &tree.nodes[from];
        if slot >= internal {
            self.leaves[leaves + slot - internal] = node.value;
            return;
        }
        if node.is_leaf() {
            self.place(tree, from, 2 * slot + 1, start, leaves);
            self.place(tree, from, 2 * slot + 2, start, leaves);
            return;
        }
        let (left, right) = (node.left as usize, node.right as usize);
        self.nodes[start + slot] = DenseNode {
            threshold: node.threshold,
            delta: [
                tree.nodes[left].value - node.value,
                tree.nodes[right].value - node.value,
            ],
            feature: node.feature,
        };
        self.place(tree, left, 2 * slot + 1, start, leaves);
        self.place(tree, right, 2 * slot + 2, start, leaves);
    }

    /// Sum of the leaf values the row reaches.
    pub fn predict(&self, x: &[f64]) -> f64 {
        let width = 1 << self.depth;
        let mut sum = 0.0;
        for (t, leaves) in self.leaves.chunks_exact(width).enumerate() {
            let tree = self.tree(t);
            let mut at = 0;
            for _ in 0..self.depth {
                let node = &tree[at];
                at = 2 * at + 1 + goes_right(node, x[node.feature as usize]);
            }
            sum += leaves[at - tree.len()];
        }
        sum
    }

    /// Path attribution: each split's change in value added to its feature in `out`;
    /// returns the sum of the root values, so `bias + sum(out) == predict(x)`.
    pub fn path_contributions(&self, x: &[f64], out: &mut [f64]) -> f64 {
        let width = x.len().min(out.len());
        assert!(
            self.width <= width,
            "a tree splits on a feature the row lacks"
        );
        let Some(last) = width.checked_sub(1) else {
            return self.roots; // no input: no tree splits (checked above)
        };
        let (x, out) = (&x[..width], &mut out[..width]);
        self.walk(|node| {
            // Never clamped (checked above); it spares a bounds check on both slices.
            let feature = (node.feature as usize).min(last);
            let right = goes_right(node, x[feature]);
            out[feature] += node.delta[right];
            right
        });
        self.roots
    }

    /// Walk every tree from the root to a leaf; `step` takes a node's decision (0 left,
    /// 1 right) and books its contribution. Trees go WALKS at a time, side by side: one
    /// walk is a chain of dependent loads, and independent chains let the CPU overlap them.
    #[inline(always)]
    fn walk(&self, step: impl FnMut(&DenseNode) -> usize) {
        // The depth as a constant: the compiler then unrolls the steps and sees that no
        // index leaves its tree.
        match self.depth {
            0 => {}
            1 => self.walk_depth::<1>(step),
            2 => self.walk_depth::<2>(step),
            3 => self.walk_depth::<3>(step),
            4 => self.walk_depth::<4>(step),
            5 => self.walk_depth::<5>(step),
            6 => self.walk_depth::<6>(step),
            7 => self.walk_depth::<7>(step),
            _ => self.walk_depth::<MAX_DENSE_DEPTH>(step),
        }
    }

    #[inline(always)]
    fn walk_depth<const DEPTH: usize>(&self, mut step: impl FnMut(&DenseNode) -> usize) {
        let internal = (1 << DEPTH) - 1;
        let mut blocks = self.nodes.chunks_exact(WALKS * internal);
        for block in &mut blocks {
            let mut at = [0usize; WALKS];
            for _ in 0..DEPTH {
                for (k, at) in at.iter_mut().enumerate() {
                    *at = 2 * *at + 1 + step(&block[k * internal + *at]);
                }
            }
        }
        for tree in blocks.remainder().chunks_exact(internal) {
            let mut at = 0;
            for _ in 0..DEPTH {
                at = 2 * at + 1 + step(&tree[at]);
            }
        }
    }

    /// The internal nodes of tree `t`.
    fn tree(&self, t: usize) -> &[DenseNode] {
        let internal = (1 << self.depth) - 1;
        &self.nodes[t * internal..(t + 1) * internal]
    }
}

/// Trees walked side by side by [`DenseForest::walk`].
const WALKS: usize = 8;

/// Padding goes left with no change in value; feature 0 always exists.
const PADDING: DenseNode = DenseNode {
    threshold: f64::INFINITY,
    delta: [0.0, 0.0],
    feature: 0,
};

/// `x <= threshold` goes left, as in [`FlatTree`] (so NaN goes right there and here).
#[inline]
#[allow(clippy::neg_cmp_op_on_partial_ord)] // the negation is the point: NaN goes right
fn goes_right(node: &DenseNode, value: f64) -> usize {
    usize::from(!(value <= node.threshold))
}

/// Depth of the subtree at `at`, `None` past [`MAX_DENSE_DEPTH`] or on a bad index.
fn depth_of(tree: &FlatTree, at: usize, level: usize) -> Option<usize> {
    let node = tree.nodes.get(at)?;
    if node.is_leaf() {
        return Some(0);
    }
    if level == MAX_DENSE_DEPTH {
        return None;
    }
    let left = depth_of(tree, node.left as usize, level + 1)?;
    let right = depth_of(tree, node.right as usize, level + 1)?;
    Some(1 + left.max(right))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::classifier::flat_tree::Node;
    use proptest::prelude::*;

    /// A random tree over `width` features, leaves at uneven depths.
    fn grow(nodes: &mut Vec<Node>, draws: &mut impl Iterator<Item = (u8, f64)>, level: usize) {
        let (choice, value) = draws.next().unwrap_or((0, 0.0));
        let at = nodes.len();
        if level == 0 || choice % 3 == 0 {
            nodes.push(Node::leaf(value));
            return;
        }
        nodes.push(Node {
            feature: u32::from(choice % 4),
            threshold: value,
            left: 0,
            right: 0,
            value: value * 0.5,
            cover: 1.0,
        });
        nodes[at].left = nodes.len() as u32;
        grow(nodes, draws, level - 1);
        nodes[at].right = nodes.len() as u32;
        grow(nodes, draws, level - 1);
    }

    proptest! {
        #[test]
        fn the_dense_layout_answers_like_the_walked_trees(
            draws in prop::collection::vec((any::<u8>(), -2.0f64..2.0), 1..400),
            depth in 0usize..6,
            n_trees in 1usize..20,
            rows in prop::collection::vec(prop::collection::vec(-3.0f64..3.0, 4), 1..20),
        ) {
            let mut draws = draws.into_iter().cycle();
            let trees: Vec<FlatTree> = (0..n_trees)
                .map(|_| {
                    let mut nodes = Vec::new();
                    grow(&mut nodes, &mut draws, depth);
                    FlatTree { nodes }
                })
                .collect();
            let dense = DenseForest::new(&trees).unwrap();
            for x in &rows {
                let walked: f64 = trees.iter().map(|t| t.predict(x)).sum();
                prop_assert!((dense.predict(x) - walked).abs() < 1e-12);
                let (mut ours, mut theirs) = ([0.0; 4], [0.0; 4]);
                let bias = dense.path_contributions(x, &mut ours);
                let walked_bias: f64 = trees.iter().map(|t| t.path_contributions(x, &mut theirs)).sum();
                prop_assert!((bias - walked_bias).abs() < 1e-12);
                for (a, b) in ours.iter().zip(&theirs) {
                    prop_assert!((a - b).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn deep_or_broken_trees_are_walked_instead() {
        let chain = |n: usize| {
            let mut nodes: Vec<Node> = (0..n)
                .map(|i| Node {
                    feature: 0,
                    threshold: 0.0,
                    left: (i + 1) as u32,
                    right: (i + 1) as u32,
                    value: 0.0,
                    cover: 1.0,
                })
                .collect();
            nodes.push(Node::leaf(1.0));
            FlatTree { nodes }
        };
        assert!(DenseForest::new(&[chain(MAX_DENSE_DEPTH)]).is_some());
        assert!(DenseForest::new(&[chain(MAX_DENSE_DEPTH + 1)]).is_none());
        let mut cycle = chain(2);
        cycle.nodes[1].left = 0;
        assert!(DenseForest::new(&[cycle]).is_none());
        let mut dangling = chain(1);
        dangling.nodes[0].right = 9;
        assert!(DenseForest::new(&[dangling]).is_none());
        assert!(DenseForest::new(&[FlatTree { nodes: vec![] }]).is_none());
        assert!(DenseForest::new(&[]).is_none());
    }
}
