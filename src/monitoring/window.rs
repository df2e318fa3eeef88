//! The service's sliding window: bin counts of the recently scored records, no values.
//! The window is a ring of blocks of atomic counters; a record is counted in the block
//! of its turn, with relaxed increments (no lock while scoring). The first record of a
//! block's new turn clears it, under a lock taken only then. A read adds up the blocks
//! of the turns still inside the window, the newest one partly filled.
//!
//! What a turn is decides the window's kind. By records (`--monitoring-window 10000`):
//! a tenth of the size, so the window holds between `size − size/10` and `size`
//! records. By time (`--monitoring-window 15m`): a sixtieth of the span on a clock, so
//! the window holds what was scored in the last `span − span/60` to `span`, and blocks
//! of expired turns are neither read nor kept (the next turn that lands on one clears it).

use super::counts::{AtomicCounts, Counts, SlotMap};
use super::drift::{DriftReport, Thresholds};
use super::reference::DriftReference;
use crate::features::{FeatureEncoder, Value};
use serde::Serialize;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Blocks in a ring of records: the window slides by a tenth of its size.
const RECORD_BLOCKS: u64 = 10;
/// Blocks in a ring of time: the window slides by a sixtieth of its span.
const TIME_BLOCKS: u64 = 60;
/// Shortest and longest time span: a block lasts at least a second, and a week is
/// longer than anyone watches a live window.
const MIN_SPAN: Duration = Duration::from_secs(60);
const MAX_SPAN: Duration = Duration::from_secs(7 * 86_400);

/// How much a window holds: the newest N records, or what was scored in the last span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowSpan {
    Records(u64),
    Time(Duration),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--monitoring-window {given:?}: {why}")]
pub struct WindowSpanError {
    given: String,
    why: String,
}

impl std::str::FromStr for WindowSpan {
    type Err = WindowSpanError;

    /// `10000` (records), or a number with a unit: `90s`, `15m`, `1h`, `2d`.
    fn from_str(text: &str) -> Result<Self, WindowSpanError> {
        let error = |why: &str| WindowSpanError {
            given: text.to_string(),
            why: why.to_string(),
        };
        let usage = "give records (10000) or a duration (90s, 15m, 1h, 2d)";
        let t = text.trim();
        if let Ok(records) = t.parse::<u64>() {
            return match records {
                0 => Err(error("the window needs at least one record")),
                n => Ok(WindowSpan::Records(n)),
            };
        }
        let unit_at = t
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| error(usage))?;
        let (number, unit) = t.split_at(unit_at);
        let seconds_per = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => return Err(error(usage)),
        };
        let number: u64 = number.parse().map_err(|_| error(usage))?;
        let span = Duration::from_secs(number.saturating_mul(seconds_per));
        if !(MIN_SPAN..=MAX_SPAN).contains(&span) {
            return Err(error("a time window spans from 1m to 7d"));
        }
        Ok(WindowSpan::Time(span))
    }
}

impl std::fmt::Display for WindowSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WindowSpan::Records(n) => write!(f, "{n} records"),
            WindowSpan::Time(span) => write!(f, "{}s", span.as_secs()),
        }
    }
}

/// Time since a fixed origin. The service uses [`MonotonicClock`]; tests move their own.
pub trait Clock: Send + Sync {
    fn now(&self) -> Duration;
}

/// The time since the window was made, from the monotonic clock (immune to changes of
/// the wall clock).
pub struct MonotonicClock(Instant);

impl MonotonicClock {
    pub fn new() -> Self {
        MonotonicClock(Instant::now())
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// What a turn of the ring is.
enum Pace {
    Records {
        tickets: Tickets,
        block_size: u64,
    },
    Time {
        clock: Arc<dyn Clock>,
        block: Duration,
    },
}

/// The numbers of a records window's records, taken by each thread a run at a time: one
/// shared counter bumped per record would pass its cache line between the workers on
/// every record. A run is at most a 64th of a block, so the numbers a thread holds but
/// has not used yet move the window's edge by little; blocks of under 128 records take
/// their numbers one at a time, exactly in order.
struct Tickets {
    next: AtomicU64,
    run: u64,
    /// Tells windows apart in the threads' runs.
    id: u64,
}

impl Tickets {
    fn new(block_size: u64) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Tickets {
            next: AtomicU64::new(0),
            run: (block_size / 64).clamp(1, 64),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The number of the record being counted.
    fn take(&self) -> u64 {
        if self.run == 1 {
            return self.next.fetch_add(1, Ordering::Relaxed);
        }
        thread_local! {
            /// (window id, next number, end of the run) of this thread.
            static RUN: Cell<(u64, u64, u64)> = const { Cell::new((u64::MAX, 0, 0)) };
        }
        RUN.with(|run| {
            let (id, mut next, mut end) = run.get();
            if id != self.id || next == end {
                next = self.next.fetch_add(self.run, Ordering::Relaxed);
                end = next + self.run;
            }
            run.set((self.id, next + 1, end));
            next
        })
    }

    /// Numbers handed out so far, to threads' runs included.
    fn taken(&self) -> u64 {
        self.next.load(Ordering::Relaxed)
    }
}

struct Block {
    /// The turn counted here, plus one (0: never used).
    turn: AtomicU64,
    counts: AtomicCounts,
    clearing: Mutex<()>,
}

/// The window as `GET /v1/monitoring` describes it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WindowInfo {
    /// `records` (the newest N) or `time` (the last span).
    pub kind: &'static str,
    /// Most records the window holds (records windows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_records: Option<u64>,
    /// Seconds the window spans (time windows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_seconds: Option<u64>,
    /// Records in the window now.
    pub rows: u64,
}

pub struct Window {
    slots: SlotMap,
    span: WindowSpan,
    pace: Pace,
    blocks: Vec<Block>,
    /// The bundle version whose reference this window compares with.
    version: String,
}

impl Window {
    /// A window of `span` on the monotonic clock.
    pub fn new(
        reference: DriftReference,
        encoder: &FeatureEncoder,
        span: WindowSpan,
        version: &str,
    ) -> Self {
        Self::with_clock(
            reference,
            encoder,
            span,
            version,
            Arc::new(MonotonicClock::new()),
        )
    }

    /// A window reading time from `clock` (used only by time windows).
    pub fn with_clock(
        reference: DriftReference,
        encoder: &FeatureEncoder,
        span: WindowSpan,
        version: &str,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let slots = SlotMap::new(reference, encoder);
        let (pace, blocks) = match span {
            WindowSpan::Records(size) => {
                let block_size = size.div_ceil(RECORD_BLOCKS).max(1);
                let tickets = Tickets::new(block_size);
                (
                    Pace::Records {
                        tickets,
                        block_size,
                    },
                    RECORD_BLOCKS,
                )
            }
            WindowSpan::Time(span) => (
                Pace::Time {
                    clock,
                    block: (span / TIME_BLOCKS as u32).max(Duration::from_millis(1)),
                },
                TIME_BLOCKS,
            ),
        };
        let blocks = (0..blocks)
            .map(|_| Block {
                turn: AtomicU64::new(0),
                counts: AtomicCounts::new(slots.len()),
                clearing: Mutex::new(()),
            })
            .collect();
        Window {
            slots,
            span,
            pace,
            blocks,
            version: version.to_string(),
        }
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn span(&self) -> WindowSpan {
        self.span
    }

    /// Count one scored record.
    pub fn record(&self, values: &[Value], segment: usize, probability: Option<f64>) {
        let turn = match &self.pace {
            Pace::Records {
                tickets,
                block_size,
            } => tickets.take() / block_size,
            Pace::Time { clock, block } => time_turn(clock.now(), *block),
        };
        let block = &self.blocks[(turn % self.blocks.len() as u64) as usize];
        if block.turn.load(Ordering::Acquire) != turn + 1 {
            self.start_turn(block, turn);
        }
        let mine = block.counts.mine();
        self.slots
            .record(values, segment, probability, |slot| mine.add(slot, 1));
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

    /// The turn of the newest record (records) or of now (time).
    fn newest_turn(&self) -> u64 {
        match &self.pace {
            Pace::Records {
                tickets,
                block_size,
            } => tickets.taken().saturating_sub(1) / block_size,
            Pace::Time { clock, block } => time_turn(clock.now(), *block),
        }
    }

    /// The counts of the records now in the window.
    pub fn counts(&self) -> Counts {
        let newest = self.newest_turn();
        let ring = self.blocks.len() as u64;
        let mut total = Counts(vec![0; self.slots.len()]);
        for block in &self.blocks {
            let turn = block.turn.load(Ordering::Acquire);
            if turn > 0 && turn <= newest + 1 && newest + 1 - turn < ring {
                total.add(&block.counts.snapshot());
            }
        }
        total
    }

    pub fn report(&self, thresholds: Thresholds) -> DriftReport {
        DriftReport::compare(&self.slots, &self.counts(), thresholds)
    }

    /// Kind and span of the window, with `rows` records in it.
    pub fn info(&self, rows: u64) -> WindowInfo {
        let (kind, span_records, span_seconds) = match self.span {
            WindowSpan::Records(n) => ("records", Some(n), None),
            WindowSpan::Time(span) => ("time", None, Some(span.as_secs())),
        };
        WindowInfo {
            kind,
            span_records,
            span_seconds,
            rows,
        }
    }
}

fn time_turn(now: Duration, block: Duration) -> u64 {
    (now.as_nanos() / block.as_nanos()) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitoring::reference::{InputProfile, NumericProfile, Profile};

    fn window_with(span: WindowSpan, clock: Arc<dyn Clock>) -> Window {
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
        Window::with_clock(reference, &encoder, span, "v1", clock)
    }

    fn window(size: u64) -> Window {
        window_with(WindowSpan::Records(size), Arc::new(MonotonicClock::new()))
    }

    /// A clock the test moves by hand.
    #[derive(Default)]
    struct ManualClock(AtomicU64);

    impl ManualClock {
        fn set(&self, seconds: u64) {
            self.0.store(seconds * 1000, Ordering::SeqCst);
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Duration {
            Duration::from_millis(self.0.load(Ordering::SeqCst))
        }
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
    fn a_time_window_drops_buckets_as_they_expire() {
        let clock = Arc::new(ManualClock::default());
        // One hour in 60 one-minute buckets.
        let w = window_with(WindowSpan::Time(Duration::from_secs(3600)), clock.clone());
        assert_eq!(w.counts().records(), 0);
        for minute in 0..30 {
            clock.set(minute * 60);
            for _ in 0..10 {
                w.record(&[Value::Number(5.0)], 0, None);
            }
        }
        assert_eq!(w.counts().records(), 300);
        // 59 minutes later the bucket of minute 0 is the oldest still inside.
        clock.set(59 * 60 + 30);
        assert_eq!(w.counts().records(), 300);
        clock.set(60 * 60);
        assert_eq!(w.counts().records(), 290, "minute 0 expired");
        clock.set(75 * 60);
        assert_eq!(w.counts().records(), 140);
        // New records reuse the ring: minute 75 lands on minute 15's expired block.
        for _ in 0..7 {
            w.record(&[Value::Number(500.0)], 1, None);
        }
        let report = w.report(Thresholds::default());
        assert_eq!(report.records, 147);
        assert_eq!(report.inputs[0].out_of_range_rate, Some(7.0 / 147.0));
        // After a quiet span nothing is left.
        clock.set(200 * 60);
        assert_eq!(w.counts().records(), 0);
        assert_eq!(w.info(0).kind, "time");
        assert_eq!(w.info(0).span_seconds, Some(3600));
    }

    #[test]
    fn spans_parse_as_records_or_durations() {
        let parse = |s: &str| s.parse::<WindowSpan>();
        assert_eq!(parse("400"), Ok(WindowSpan::Records(400)));
        assert_eq!(parse("15m"), Ok(WindowSpan::Time(Duration::from_secs(900))));
        assert_eq!(parse("1h"), Ok(WindowSpan::Time(Duration::from_secs(3600))));
        assert_eq!(parse("90s"), Ok(WindowSpan::Time(Duration::from_secs(90))));
        assert_eq!(
            parse("2d"),
            Ok(WindowSpan::Time(Duration::from_secs(172_800)))
        );
        for bad in [
            "0",
            "",
            "m",
            "15x",
            "1.5h",
            "-3m",
            "30s",
            "8d",
            "99999999999999999h",
        ] {
            let err = parse(bad).expect_err(bad).to_string();
            assert!(err.contains("--monitoring-window"), "{err}");
        }
    }

    #[test]
    fn threads_take_record_numbers_in_runs_without_losing_or_repeating_one() {
        let tickets = Tickets::new(10_000);
        assert_eq!(tickets.run, 64);
        let per_thread: Vec<Vec<u64>> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..1_000).map(|_| tickets.take()).collect()))
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let mut all: Vec<u64> = per_thread.into_iter().flatten().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4_000);
        // At most one unfinished run a thread.
        assert!(tickets.taken() < 4_000 + 4 * 64);
        // Small blocks: one at a time, in order.
        let small = Tickets::new(100);
        assert_eq!(
            (0..5).map(|_| small.take()).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        assert_eq!(small.taken(), 5);
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
