//! The service's sliding window: bin counts of the last `size` scored records, no values.
//! The window is a ring of blocks of atomic counters; a record is counted in the block
//! its sequence number falls in, with relaxed increments (no lock while scoring). The
//! first record of a block's new turn clears it, under a lock taken only then. A read
//! adds up the blocks of the last `size` records, the newest block being partly filled,
//! so the window holds between `size − size/BLOCKS` and `size` records.

use super::counts::{AtomicCounts, Counts, SlotMap};
use super::drift::{DriftReport, Thresholds};
use super::reference::DriftReference;
use crate::features::{FeatureEncoder, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Blocks in the ring: the window slides by a tenth of its size.
const BLOCKS: u64 = 10;

struct Block {
    /// The block turn counted here, plus one (0: never used).
    turn: AtomicU64,
    counts: AtomicCounts,
    clearing: Mutex<()>,
}

pub struct Window {
    slots: SlotMap,
    block_size: u64,
    next: AtomicU64,
    blocks: Vec<Block>,
    /// The bundle version whose reference this window compares with.
    version: String,
}

impl Window {
    /// A window over the last `size` records (at least one per block).
    pub fn new(
        reference: DriftReference,
        encoder: &FeatureEncoder,
        size: u64,
        version: &str,
    ) -> Self {
        let slots = SlotMap::new(reference, encoder);
        let blocks = (0..BLOCKS)
            .map(|_| Block {
                turn: AtomicU64::new(0),
                counts: AtomicCounts::new(slots.len()),
                clearing: Mutex::new(()),
            })
            .collect();
        Window {
            block_size: size.div_ceil(BLOCKS).max(1),
            slots,
            next: AtomicU64::new(0),
            blocks,
            version: version.to_string(),
        }
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Count one scored record.
    pub fn record(&self, values: &[Value], segment: usize, probability: Option<f64>) {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let turn = seq / self.block_size;
        let block = &self.blocks[(turn % BLOCKS) as usize];
        if block.turn.load(Ordering::Acquire) != turn + 1 {
            self.start_turn(block, turn);
        }
        self.slots
            .record(values, segment, probability, |slot| block.counts.hit(slot));
    }

    /// Clear a block for its new turn, once, while the records of that turn wait.
    #[cold]
    fn start_turn(&self, block: &Block, turn: u64) {
        let _one = block.clearing.lock().unwrap_or_else(|e| e.into_inner());
        if block.turn.load(Ordering::Acquire) < turn + 1 {
            block.counts.clear();
            block.turn.store(turn + 1, Ordering::Release);
        }
    }

    /// The counts of the records now in the window.
    pub fn counts(&self) -> Counts {
        let newest = self.next.load(Ordering::Relaxed).saturating_sub(1) / self.block_size;
        let mut total = Counts(vec![0; self.slots.len()]);
        for block in &self.blocks {
            let turn = block.turn.load(Ordering::Acquire);
            if turn > 0 && turn <= newest + 1 && newest + 1 - turn < BLOCKS {
                total.add(&block.counts.snapshot());
            }
        }
        total
    }

    pub fn report(&self, thresholds: Thresholds) -> DriftReport {
        DriftReport::compare(&self.slots, &self.counts(), thresholds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitoring::reference::{InputProfile, NumericProfile, Profile};

    fn window(size: u64) -> Window {
        let values: Vec<Option<f64>> = (0..100).map(|i| Some(f64::from(i))).collect();
        let reference = DriftReference {
            rows: 100,
            inputs: vec![InputProfile {
                name: "tenure".into(),
                profile: Profile::Numeric(NumericProfile::fit(&values).unwrap()),
            }],
            churn_probability: None,
            segments: vec![0.5, 0.5],
        };
        let encoder =
            crate::features::FeatureEncoder::from_inputs(vec![crate::features::InputColumn {
                name: "tenure".into(),
                encoding: crate::features::Encoding::Ignored {
                    numeric: true,
                    reason: "test".into(),
                },
            }]);
        Window::new(reference, &encoder, size, "v1")
    }

    #[test]
    fn the_window_keeps_only_the_latest_records() {
        let w = window(100);
        for _ in 0..1000 {
            w.record(&[Value::Number(5.0)], 0, None);
        }
        assert_eq!(w.counts().records(), 100);
        for _ in 0..95 {
            w.record(&[Value::Number(500.0)], 1, None);
        }
        // The newest block is half full: 90 full-block records plus 5.
        let report = w.report(Thresholds::default());
        assert_eq!(report.records, 95);
        assert_eq!(report.inputs[0].out_of_range_rate, Some(1.0));
        assert!(report.inputs[0].psi > 1.0);
        w.record(&[Value::Missing], 1, None);
        assert_eq!(
            w.report(Thresholds::default()).inputs[0].missing_rate,
            1.0 / 96.0
        );
    }

    #[test]
    fn records_from_many_threads_are_all_counted() {
        let w = window(100_000);
        std::thread::scope(|s| {
            for t in 0..4 {
                let w = &w;
                s.spawn(move || {
                    for i in 0..5000 {
                        w.record(&[Value::Number(f64::from(i % 100))], t % 2, None);
                    }
                });
            }
        });
        let report = w.report(Thresholds::default());
        assert_eq!(report.records, 20_000);
        assert!(report.inputs[0].psi < 1e-9, "{}", report.inputs[0].psi);
        assert!(report.segments.as_ref().unwrap().psi < 1e-9);
    }
}
