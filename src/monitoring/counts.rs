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
/// Each thread counts in a shard of its own, a whole number of cache lines apart from
/// the others: two workers scoring at once would otherwise pass the same lines back and
/// forth on every record. A read adds the shards up.
#[derive(Debug)]
pub struct AtomicCounts {
    len: usize,
    /// Counters of one shard, rounded up to whole cache lines.
    stride: usize,
    cells: Box<[AtomicU64]>,
}

/// One thread's counters of an [`AtomicCounts`].
pub struct Shard<'a>(&'a [AtomicU64]);

impl Shard<'_> {
    /// Add `n` to a counter; a slot past the end is ignored.
    pub fn add(&self, slot: usize, n: u64) {
        if let Some(cell) = self.0.get(slot) {
            cell.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// Shards of [`AtomicCounts`]: threads beyond this many share them, round robin.
const SHARDS: usize = 8;
/// Counters in a 64-byte cache line.
const CELLS_PER_LINE: usize = 8;

/// This thread's shard, handed out in turn the first time a thread counts.
fn shard() -> usize {
    use std::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

impl AtomicCounts {
    pub fn new(len: usize) -> Self {
        let stride = len.div_ceil(CELLS_PER_LINE) * CELLS_PER_LINE;
        AtomicCounts {
            len,
            stride,
            cells: (0..stride * SHARDS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub fn hit(&self, slot: usize) {
        self.mine().add(slot, 1);
    }

    /// Add `n` to a counter (ignored past the end, like [`Self::hit`]).
    pub fn add(&self, slot: usize, n: u64) {
        self.mine().add(slot, n);
    }

    /// This thread's shard: for many hits in a row, found once.
    pub fn mine(&self) -> Shard<'_> {
        let first = shard() * self.stride;
        Shard(&self.cells[first..first + self.len])
    }

    pub fn clear(&self) {
        for cell in self.cells.iter() {
            cell.store(0, Ordering::Relaxed);
        }
    }

    pub fn snapshot(&self) -> Counts {
        let mut total = vec![0; self.len];
        for shard in self.cells.chunks(self.stride.max(1)) {
            for (sum, cell) in total.iter_mut().zip(shard) {
                *sum += cell.load(Ordering::Relaxed);
            }
        }
        Counts(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_add_up_exactly_and_clear_to_zero() {
        let counts = AtomicCounts::new(13);
        std::thread::scope(|scope| {
            for t in 0..(SHARDS + 3) {
                let counts = &counts;
                scope.spawn(move || {
                    for i in 0..1_000 {
                        counts.hit((t + i) % 13);
                    }
                    counts.hit(13); // past the end: ignored
                });
            }
        });
        let total = counts.snapshot();
        assert_eq!(total.0.len(), 13);
        assert_eq!(total.0.iter().sum::<u64>(), 1_000 * (SHARDS as u64 + 3));
        // Thread t hits slot (t + i) % 13 for i < 1000: 77 rounds of 13, then 12 more.
        let expected = |slot: usize| -> u64 {
            (0..SHARDS + 3)
                .map(|t| (0..1_000).filter(|i| (t + i) % 13 == slot).count() as u64)
                .sum()
        };
        for slot in 0..13 {
            assert_eq!(total.0[slot], expected(slot), "slot {slot}");
        }
        counts.clear();
        assert!(counts.snapshot().0.iter().all(|&c| c == 0));
        assert!(AtomicCounts::new(0).snapshot().0.is_empty());
    }
}
