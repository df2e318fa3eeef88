//! Scored records as bin counts: one flat array of counters per window or file, laid out
//! by a [`SlotMap`] built once from the reference. Counting a record is a few index
//! computations and increments; no value is kept.

use super::reference::{DriftReference, NumericProfile, Profile};
use crate::features::{FeatureEncoder, Value};
use std::sync::atomic::{AtomicU64, Ordering};

/// Slot 0 counts records; each profiled input then owns a run of slots: its bins, then
/// `missing` and `out of range` (numeric) or its categories, `unseen` and `missing`.
/// The churn probability's bins and one slot per segment come last.
#[derive(Debug, Clone)]
pub struct SlotMap {
    /// (encoder input index, first slot) per reference input, in reference order.
    inputs: Vec<(Option<usize>, usize)>,
    churn: Option<usize>,
    segments: usize,
    len: usize,
    reference: DriftReference,
}

/// Where one input's counters sit in the flat array.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputSlots {
    pub first: usize,
    /// Bins (numeric) or categories plus the unseen bucket (categorical).
    pub buckets: usize,
    pub missing: usize,
    pub out_of_range: Option<usize>,
}

impl SlotMap {
    pub fn new(reference: DriftReference, encoder: &FeatureEncoder) -> Self {
        let mut len = 1;
        let mut inputs = Vec::with_capacity(reference.inputs.len());
        for input in &reference.inputs {
            inputs.push((encoder.input_index(&input.name), len));
            len += match &input.profile {
                Profile::Numeric(p) => p.bins() + 2,
                Profile::Categorical(p) => p.categories.len() + 2,
            };
        }
        let churn = reference.churn_probability.as_ref().map(|p| {
            let at = len;
            len += p.bins();
            at
        });
        let segments = len;
        len += reference.segments.len();
        SlotMap {
            inputs,
            churn,
            segments,
            len,
            reference,
        }
    }

    pub fn reference(&self) -> &DriftReference {
        &self.reference
    }

    /// Number of counters a record can touch.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slots of the reference input at `index`.
    pub fn input_slots(&self, index: usize) -> InputSlots {
        let first = self.inputs[index].1;
        match &self.reference.inputs[index].profile {
            Profile::Numeric(p) => InputSlots {
                first,
                buckets: p.bins(),
                missing: first + p.bins(),
                out_of_range: Some(first + p.bins() + 1),
            },
            Profile::Categorical(p) => InputSlots {
                first,
                buckets: p.categories.len() + 1,
                missing: first + p.categories.len() + 1,
                out_of_range: None,
            },
        }
    }

    /// First slot and bin count of the churn probability, when profiled.
    pub fn churn_slots(&self) -> Option<(usize, &NumericProfile)> {
        self.churn.zip(self.reference.churn_probability.as_ref())
    }

    pub fn segment_slots(&self) -> (usize, usize) {
        (self.segments, self.reference.segments.len())
    }

    /// Call `hit` with every slot one scored record fills. `values` are the record's
    /// parsed values in encoder input order.
    pub fn record(
        &self,
        values: &[Value],
        segment: usize,
        probability: Option<f64>,
        mut hit: impl FnMut(usize),
    ) {
        hit(0);
        for ((at, first), input) in self.inputs.iter().zip(&self.reference.inputs) {
            let value = at.and_then(|i| values.get(i)).unwrap_or(&Value::Missing);
            match (&input.profile, value) {
                (Profile::Numeric(p), Value::Number(x)) => {
                    hit(first + p.bin(*x));
                    if p.out_of_range(*x) {
                        hit(first + p.bins() + 1);
                    }
                }
                (Profile::Numeric(p), _) => hit(first + p.bins()),
                (Profile::Categorical(p), Value::Text(t)) => hit(first + p.bucket(t)),
                (Profile::Categorical(p), _) => hit(first + p.categories.len() + 1),
            }
        }
        if let (Some((first, p)), Some(x)) = (self.churn_slots(), probability) {
            hit(first + p.bin(x));
        }
        if segment < self.reference.segments.len() {
            hit(self.segments + segment);
        }
    }
}

/// Counters read at one moment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Counts(pub Vec<u64>);

impl Counts {
    pub fn records(&self) -> u64 {
        self.0.first().copied().unwrap_or(0)
    }

    pub fn get(&self, slot: usize) -> u64 {
        self.0.get(slot).copied().unwrap_or(0)
    }

    pub fn range(&self, first: usize, len: usize) -> &[u64] {
        self.0.get(first..first + len).unwrap_or(&[])
    }

    pub fn add(&mut self, other: &Counts) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a += b;
        }
    }
}

/// Counters many threads add to at once (relaxed increments: each counter is exact,
/// and a reader may see one record half counted, which drift figures cannot tell).
#[derive(Debug)]
pub struct AtomicCounts(Box<[AtomicU64]>);

impl AtomicCounts {
    pub fn new(len: usize) -> Self {
        AtomicCounts((0..len).map(|_| AtomicU64::new(0)).collect())
    }

    pub fn hit(&self, slot: usize) {
        if let Some(cell) = self.0.get(slot) {
            cell.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn clear(&self) {
        for cell in self.0.iter() {
            cell.store(0, Ordering::Relaxed);
        }
    }

    pub fn snapshot(&self) -> Counts {
        Counts(self.0.iter().map(|c| c.load(Ordering::Relaxed)).collect())
    }
}
