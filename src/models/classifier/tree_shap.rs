//! Path-dependent TreeSHAP (Lundberg et al. 2018, algorithm 2): exact Shapley values of
//! one tree's prediction, with "feature unknown" meaning "follow both branches, weighted
//! by the training rows (cover) that went each way". Unlike plain path attribution, a
//! split near the root does not take credit for what deeper splits decide.

use super::flat_tree::FlatTree;

#[derive(Debug, Clone, Copy, Default)]
pub struct PathElement {
    feature: usize,
    zero: f64,
    one: f64,
    weight: f64,
}

/// Add this tree's SHAP value of each feature to `out`; returns the tree's expected
/// value over the training rows, so `expected + Σ out = prediction`. `stack` is scratch
/// space, reused across calls so scoring does not allocate per node.
pub fn tree_shap(tree: &FlatTree, x: &[f64], out: &mut [f64], stack: &mut Vec<PathElement>) -> f64 {
    stack.clear();
    recurse(tree, x, out, 0, stack, 0, 0, 1.0, 1.0, usize::MAX);
    expected_value(tree, 0)
}

fn expected_value(tree: &FlatTree, at: usize) -> f64 {
    let node = &tree.nodes[at];
    if node.is_leaf() {
        return node.value;
    }
    let (l, r) = (node.left as usize, node.right as usize);
    let cover = node.cover.max(f64::MIN_POSITIVE);
    (tree.nodes[l].cover * expected_value(tree, l) + tree.nodes[r].cover * expected_value(tree, r))
        / cover
}

/// One node of the walk. The path of this call lives at `stack[start..start + depth + 1]`,
/// a copy of the parent's (at `parent`) plus this split, as the algorithm requires.
#[allow(clippy::too_many_arguments)]
fn recurse(
    tree: &FlatTree,
    x: &[f64],
    out: &mut [f64],
    at: usize,
    stack: &mut Vec<PathElement>,
    parent: usize,
    depth: usize,
    zero: f64,
    one: f64,
    feature: usize,
) {
    let start = stack.len();
    for i in 0..depth {
        let element = stack[parent + i];
        stack.push(element);
    }
    stack.push(PathElement::default());
    extend(&mut stack[start..], depth, zero, one, feature);
    let node = &tree.nodes[at];
    if node.is_leaf() {
        let path = &stack[start..];
        for i in 1..=depth {
            let w = unwound_sum(path, depth, i);
            out[path[i].feature] += w * (path[i].one - path[i].zero) * node.value;
        }
        stack.truncate(start);
        return;
    }
    let split = node.feature as usize;
    let (hot, cold) = if x[split] <= node.threshold {
        (node.left as usize, node.right as usize)
    } else {
        (node.right as usize, node.left as usize)
    };
    let cover = node.cover.max(f64::MIN_POSITIVE);
    let (hot_zero, cold_zero) = (
        tree.nodes[hot].cover / cover,
        tree.nodes[cold].cover / cover,
    );
    let (mut incoming_zero, mut incoming_one, mut depth) = (1.0, 1.0, depth);
    if let Some(k) = (1..=depth).find(|&i| stack[start + i].feature == split) {
        incoming_zero = stack[start + k].zero;
        incoming_one = stack[start + k].one;
        unwind(&mut stack[start..], depth, k);
        depth -= 1;
    }
    let (z, o) = (hot_zero * incoming_zero, incoming_one);
    recurse(tree, x, out, hot, stack, start, depth + 1, z, o, split);
    let z = cold_zero * incoming_zero;
    recurse(tree, x, out, cold, stack, start, depth + 1, z, 0.0, split);
    stack.truncate(start);
}

/// `path[..depth]` is the parent's path; add the element at `depth`.
fn extend(path: &mut [PathElement], depth: usize, zero: f64, one: f64, feature: usize) {
    path[depth] = PathElement {
        feature,
        zero,
        one,
        weight: if depth == 0 { 1.0 } else { 0.0 },
    };
    let d = depth as f64;
    for i in (0..depth).rev() {
        path[i + 1].weight += one * path[i].weight * (i as f64 + 1.0) / (d + 1.0);
        path[i].weight = zero * path[i].weight * (d - i as f64) / (d + 1.0);
    }
}

fn unwind(path: &mut [PathElement], depth: usize, index: usize) {
    let (one, zero) = (path[index].one, path[index].zero);
    let d = depth as f64;
    let mut next_one = path[depth].weight;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = path[i].weight;
            path[i].weight = next_one * (d + 1.0) / ((i as f64 + 1.0) * one);
            next_one = tmp - path[i].weight * zero * (d - i as f64) / (d + 1.0);
        } else {
            path[i].weight = path[i].weight * (d + 1.0) / (zero * (d - i as f64));
        }
    }
    for i in index..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero = path[i + 1].zero;
        path[i].one = path[i + 1].one;
    }
}

fn unwound_sum(path: &[PathElement], depth: usize, index: usize) -> f64 {
    let (one, zero) = (path[index].one, path[index].zero);
    let d = depth as f64;
    let mut next_one = path[depth].weight;
    let mut total = 0.0;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = next_one * (d + 1.0) / ((i as f64 + 1.0) * one);
            total += tmp;
            next_one = path[i].weight - tmp * zero * (d - i as f64) / (d + 1.0);
        } else if zero != 0.0 {
            total += (path[i].weight / zero) / ((d - i as f64) / (d + 1.0));
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::classifier::flat_tree::Node;
    use proptest::prelude::*;

    /// E[f(x) | the features in `known` are x's] under the tree's cover weights.
    fn conditional(tree: &FlatTree, x: &[f64], known: &[bool], at: usize) -> f64 {
        let node = &tree.nodes[at];
        if node.is_leaf() {
            return node.value;
        }
        let (l, r) = (node.left as usize, node.right as usize);
        if known[node.feature as usize] {
            let next = if x[node.feature as usize] <= node.threshold {
                l
            } else {
                r
            };
            return conditional(tree, x, known, next);
        }
        (tree.nodes[l].cover * conditional(tree, x, known, l)
            + tree.nodes[r].cover * conditional(tree, x, known, r))
            / node.cover
    }

    /// Shapley values by enumerating every coalition of `n` features.
    fn brute_force(tree: &FlatTree, x: &[f64], n: usize) -> Vec<f64> {
        let factorial = |k: usize| (1..=k).product::<usize>() as f64;
        let mut phi = vec![0.0; n];
        for (f, phi_f) in phi.iter_mut().enumerate() {
            for mask in 0..(1usize << n) {
                if mask & (1 << f) != 0 {
                    continue;
                }
                let mut known: Vec<bool> = (0..n).map(|j| mask & (1 << j) != 0).collect();
                let size = known.iter().filter(|&&k| k).count();
                let weight = factorial(size) * factorial(n - size - 1) / factorial(n);
                let without = conditional(tree, x, &known, 0);
                known[f] = true;
                *phi_f += weight * (conditional(tree, x, &known, 0) - without);
            }
        }
        phi
    }

    fn split(feature: u32, threshold: f64, left: u32, right: u32, cover: f64) -> Node {
        Node {
            feature,
            threshold,
            left,
            right,
            value: 0.0,
            cover,
        }
    }

    fn leaf(value: f64, cover: f64) -> Node {
        Node {
            cover,
            ..Node::leaf(value)
        }
    }

    /// Depth-3 tree over 3 features, feature 0 used twice on one path; `covers` are the
    /// five leaves' row counts.
    fn tree(values: &[f64], covers: &[f64]) -> FlatTree {
        let c = covers;
        FlatTree {
            nodes: vec![
                split(0, 0.0, 1, 2, c.iter().sum()),
                split(1, 0.5, 3, 4, c[0] + c[1]),
                split(2, 1.0, 5, 6, c[2] + c[3] + c[4]),
                leaf(values[0], c[0]),
                leaf(values[1], c[1]),
                leaf(values[2], c[2]),
                split(0, 2.0, 7, 8, c[3] + c[4]),
                leaf(values[3], c[3]),
                leaf(values[4], c[4]),
            ],
        }
    }

    proptest! {
        #[test]
        fn matches_brute_force_shapley_values(
            values in prop::collection::vec(-2.0f64..2.0, 5),
            covers in prop::collection::vec(1.0f64..50.0, 5),
            x in prop::collection::vec(-1.0f64..3.0, 3),
        ) {
            let t = tree(&values, &covers);
            let mut out = vec![0.0; 3];
            let expected = tree_shap(&t, &x, &mut out, &mut Vec::new());
            let exact = brute_force(&t, &x, 3);
            for (a, b) in out.iter().zip(&exact) {
                prop_assert!((a - b).abs() < 1e-9, "{out:?} vs {exact:?}");
            }
            prop_assert!((expected + out.iter().sum::<f64>() - t.predict(&x)).abs() < 1e-9);
        }
    }
}
