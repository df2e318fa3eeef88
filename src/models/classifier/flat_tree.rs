//! A binary tree stored as a flat node list, shared by the boosted trees and the single
//! decision tree: `x[feature] <= threshold` goes left. Every node keeps its value (in
//! log-odds), so a prediction can be split into per-feature path contributions.

use super::explain::ReasonMethod;
use super::tree_shap::tree_shap;
use serde::{Deserialize, Serialize};

/// Marks a leaf in [`Node::feature`].
pub const LEAF: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub feature: u32,
    pub threshold: f64,
    pub left: u32,
    pub right: u32,
    /// Prediction (log-odds contribution) if the path stopped here.
    pub value: f64,
    /// Training rows that reached this node (weights the branches in TreeSHAP).
    #[serde(default)]
    pub cover: f64,
}

impl Node {
    pub fn leaf(value: f64) -> Node {
        Node {
            feature: LEAF,
            threshold: 0.0,
            left: 0,
            right: 0,
            value,
            cover: 0.0,
        }
    }

    pub fn is_leaf(&self) -> bool {
        self.feature == LEAF
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlatTree {
    pub nodes: Vec<Node>,
}

impl FlatTree {
    /// Index of the leaf this row reaches.
    pub fn leaf_of(&self, x: &[f64]) -> usize {
        let mut at = 0;
        loop {
            let node = &self.nodes[at];
            if node.is_leaf() {
                return at;
            }
            at = if x[node.feature as usize] <= node.threshold {
                node.left as usize
            } else {
                node.right as usize
            };
        }
    }

    pub fn predict(&self, x: &[f64]) -> f64 {
        self.nodes[self.leaf_of(x)].value
    }

    /// Add each feature's contribution to `out` (TreeSHAP or path attribution); returns
    /// the bias, so `bias + sum(out) == predict(x)`.
    pub fn contributions(&self, x: &[f64], out: &mut [f64], method: ReasonMethod) -> f64 {
        match method {
            ReasonMethod::TreeShap => tree_shap(self, x, out, &mut Vec::with_capacity(32)),
            ReasonMethod::Path => self.path_contributions(x, out),
        }
    }

    /// Add each split's change in value to its feature (Saabas path attribution); returns
    /// the root value, so `root + sum(out) == predict(x)`.
    pub fn path_contributions(&self, x: &[f64], out: &mut [f64]) -> f64 {
        let mut at = 0;
        loop {
            let node = &self.nodes[at];
            if node.is_leaf() {
                return self.nodes[0].value;
            }
            let next = if x[node.feature as usize] <= node.threshold {
                node.left
            } else {
                node.right
            } as usize;
            out[node.feature as usize] += self.nodes[next].value - node.value;
            at = next;
        }
    }
}
