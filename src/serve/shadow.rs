//! Shadow scoring: a challenger bundle scores a deterministic share of the records the
//! champion answers, off the response path, and the agreement between the two is kept.
//!
//! The handlers (`/v1/score`, and each record of `/v1/score/batch`) hand the parsed
//! record and the champion's outcome to a bounded channel after the answer is built; one
//! background thread scores them with the challenger. A full channel drops the record
//! (counted): shadowing never blocks or slows a response. A challenger that refuses a
//! record or panics on it is counted as a failure and the thread goes on.
//!
//! Shadowing stops for good, and says why in `GET /v1/models`, once the challenger is the
//! version being served (promoted, or named at start) or its folder is gone: a version
//! compared with itself tells nothing.

use super::metrics::ShadowMetrics;
use super::request::record_from_json;
use crate::score::{Answer, Scored, Scorer};
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use utoipa::ToSchema;

/// Records waiting for the challenger; more are dropped.
const QUEUE: usize = 1_024;
/// Newest (champion, challenger) probability pairs kept for the rank correlation.
const RESERVOIR: usize = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum ShadowError {
    #[error("--shadow-share {0}: give a share in (0, 1], e.g. 0.1")]
    Share(f64),
    #[error("--shadow {version}: cannot load the challenger bundle")]
    Load {
        version: String,
        #[source]
        reason: crate::bundle::BundleError,
    },
    #[error("--shadow: cannot start the shadow scoring thread")]
    Thread(#[from] std::io::Error),
}

/// Which bundle to shadow and for which share of the records.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowOptions {
    pub version: String,
    pub share: f64,
}

impl ShadowOptions {
    pub fn new(version: String, share: f64) -> Result<Self, ShadowError> {
        if !(share > 0.0 && share <= 1.0) {
            return Err(ShadowError::Share(share));
        }
        Ok(ShadowOptions { version, share })
    }
}

/// What a scorer said about one record, as far as the comparison needs.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    segment: usize,
    band: Option<String>,
    probability: Option<f64>,
}

impl Outcome {
    fn of(answer: &Answer) -> Self {
        Outcome {
            segment: answer.segment.id,
            band: answer.retention.as_ref().map(|r| r.band.clone()),
            probability: answer.retention.as_ref().map(|r| r.probability),
        }
    }

    /// What [`Self::of`] finds in the answer `Scorer::answer` makes of `scored`.
    fn of_scored(scored: &Scored) -> Self {
        Outcome {
            segment: scored.segment,
            band: scored.risk.map(|r| r.band.to_string()),
            probability: scored.risk.map(|r| r.probability),
        }
    }
}

enum Job {
    Score {
        record: Json,
        champion: Outcome,
    },
    /// Wakes the thread so that it sees shadowing has stopped and ends.
    Stop,
}

/// Agreement counts over every shadowed record, and the newest probability pairs.
#[derive(Debug, Default)]
struct Agreement {
    /// Records selected and handed to the challenger (dropped ones excluded).
    queued: u64,
    records: u64,
    same_band: u64,
    same_segment: u64,
    /// Records the challenger refused (an error) or panicked on.
    failures: u64,
    panics: u64,
    pairs: VecDeque<(f64, f64)>,
}

impl Agreement {
    fn add(&mut self, champion: &Outcome, challenger: &Outcome) {
        self.records += 1;
        self.same_band += u64::from(champion.band == challenger.band);
        self.same_segment += u64::from(champion.segment == challenger.segment);
        if let (Some(a), Some(b)) = (champion.probability, challenger.probability) {
            if self.pairs.len() == RESERVOIR {
                self.pairs.pop_front();
            }
            self.pairs.push_back((a, b));
        }
    }

    fn ratio(&self, count: u64) -> Option<f64> {
        (self.records > 0).then(|| count as f64 / self.records as f64)
    }
}

/// The agreement so far, as `GET /v1/models` shows it under `shadow`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShadowReport {
    pub version: String,
    pub share: f64,
    /// Whether records are still being shadowed.
    pub active: bool,
    /// Why shadowing stopped (the challenger became the served version, or was removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Records selected by the share and handed to the challenger.
    pub queued: u64,
    /// Shadowed records scored by both bundles.
    pub records: u64,
    /// Records the challenger failed on: refused with an error, or panicked.
    pub failures: u64,
    /// Of the failures, the panics.
    pub panics: u64,
    /// Share of them in the same risk band (null before the first).
    pub same_band: Option<f64>,
    /// Share of them in the same segment id.
    pub same_segment: Option<f64>,
    /// Spearman rank correlation of churn probabilities over the newest pairs.
    pub spearman: Option<f64>,
}

/// The running shadow: the channel to the challenger's thread and what it found.
pub struct Shadow {
    options: ShadowOptions,
    sender: SyncSender<Job>,
    agreement: Arc<Mutex<Agreement>>,
    metrics: ShadowMetrics,
    /// Set once, with the reason, when shadowing stops.
    stopped: Arc<OnceLock<String>>,
}

impl Shadow {
    /// Start the challenger's thread.
    pub fn start(
        challenger: Scorer,
        options: ShadowOptions,
        metrics: ShadowMetrics,
    ) -> Result<Self, ShadowError> {
        let (sender, receiver) = sync_channel(QUEUE);
        let agreement = Arc::new(Mutex::new(Agreement::default()));
        let stopped = Arc::new(OnceLock::new());
        let worker = Worker {
            challenger,
            agreement: agreement.clone(),
            metrics: metrics.clone(),
            stopped: stopped.clone(),
        };
        std::thread::Builder::new()
            .name("shadow".into())
            .spawn(move || worker.run(receiver))?;
        metrics.active.set(1);
        Ok(Shadow {
            options,
            sender,
            agreement,
            metrics,
            stopped,
        })
    }

    /// Hand a scored record to the challenger when its id falls in the share; never
    /// waits. `record` is called only for a selected record.
    pub fn offer(&self, answer: &Answer, record: impl FnOnce() -> Json) {
        let champion = || Outcome::of(answer);
        self.offer_outcome(&answer.model_version, &answer.id, champion, record);
    }

    /// [`Self::offer`] for a record scored by `version` and not made into an [`Answer`]
    /// (a CSV batch's row).
    pub fn offer_scored(
        &self,
        version: &str,
        id: &str,
        scored: &Scored,
        record: impl FnOnce() -> Json,
    ) {
        let champion = || Outcome::of_scored(scored);
        self.offer_outcome(version, id, champion, record);
    }

    fn offer_outcome(
        &self,
        version: &str,
        id: &str,
        champion: impl FnOnce() -> Outcome,
        record: impl FnOnce() -> Json,
    ) {
        if self.stopped.get().is_some() {
            return;
        }
        if version == self.options.version {
            self.follow_served(version);
            return;
        }
        if !selected(id, self.options.share) {
            return;
        }
        let job = Job::Score {
            record: record(),
            champion: champion(),
        };
        match self.sender.try_send(job) {
            Ok(()) => self.lock_agreement().queued += 1,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.metrics.dropped.inc();
            }
        }
    }

    /// Stop if the challenger is now the version being served.
    pub fn follow_served(&self, served: &str) {
        if served == self.options.version {
            self.stop(format!(
                "version {served} is the one being served: a version is not shadowed against itself"
            ));
        }
    }

    /// Stop if the challenger's folder is no longer in `models`.
    pub fn follow_folder(&self, models: &Path) {
        let manifest = models
            .join(&self.options.version)
            .join(crate::bundle::MANIFEST);
        if !manifest.is_file() {
            self.stop(format!(
                "version {} was removed from the models folder",
                self.options.version
            ));
        }
    }

    /// Stop shadowing for good (the first reason is kept) and let the thread end.
    fn stop(&self, why: String) {
        if self.stopped.set(why.clone()).is_ok() {
            tracing::info!(version = %self.options.version, reason = %why, "shadowing stopped");
            self.metrics.active.set(0);
            // A full queue means the thread is awake and sees the stop after its job.
            let _ = self.sender.try_send(Job::Stop);
        }
    }

    fn lock_agreement(&self) -> std::sync::MutexGuard<'_, Agreement> {
        self.agreement.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The agreement so far; also sets the gauges.
    pub fn report(&self) -> ShadowReport {
        let agreement = self.lock_agreement();
        let pairs: Vec<(f64, f64)> = agreement.pairs.iter().copied().collect();
        let stopped = self.stopped.get().cloned();
        let report = ShadowReport {
            version: self.options.version.clone(),
            share: self.options.share,
            active: stopped.is_none(),
            stopped,
            queued: agreement.queued,
            records: agreement.records,
            failures: agreement.failures,
            panics: agreement.panics,
            same_band: agreement.ratio(agreement.same_band),
            same_segment: agreement.ratio(agreement.same_segment),
            spearman: None,
        };
        drop(agreement);
        let report = ShadowReport {
            spearman: spearman(&pairs),
            ..report
        };
        self.metrics.set(&report);
        report
    }
}

struct Worker {
    challenger: Scorer,
    agreement: Arc<Mutex<Agreement>>,
    metrics: ShadowMetrics,
    stopped: Arc<OnceLock<String>>,
}

impl Worker {
    /// Score jobs until shadowing stops (then the challenger is dropped with the thread).
    fn run(self, jobs: Receiver<Job>) {
        while let Ok(Job::Score { record, champion }) = jobs.recv() {
            if self.stopped.get().is_some() {
                break;
            }
            // A challenger bug must not end shadowing for good: count it, go on.
            let scored = catch_unwind(AssertUnwindSafe(|| self.score(&record)));
            let mut agreement = self.agreement.lock().unwrap_or_else(|e| e.into_inner());
            match scored {
                Ok(Some(challenger)) => {
                    agreement.add(&champion, &challenger);
                    self.metrics.records.inc();
                }
                Ok(None) => {
                    agreement.failures += 1;
                    self.metrics.failures.with_label_values(&["error"]).inc();
                }
                Err(_) => {
                    agreement.failures += 1;
                    agreement.panics += 1;
                    self.metrics.failures.with_label_values(&["panic"]).inc();
                }
            }
        }
    }

    fn score(&self, record: &Json) -> Option<Outcome> {
        let scored = record_from_json(&self.challenger, record, "")
            .map_err(|e| e.to_string())
            .and_then(|(id, values)| self.challenger.score(id, values).map_err(|e| e.to_string()));
        match scored {
            Ok(answer) => Some(Outcome::of(&answer)),
            Err(e) => {
                tracing::debug!(error = %e, "the challenger refused a shadowed record");
                None
            }
        }
    }
}

/// Whether the record with this id is shadowed: a stable hash of the id, as a fraction
/// of the hash range, below `share` (the same ids across restarts and replicas).
fn selected(id: &str, share: f64) -> bool {
    if share >= 1.0 {
        return true;
    }
    (id_hash(id) as f64 / u64::MAX as f64) < share
}

/// FNV-1a, then murmur3's finaliser: FNV alone leaves the high bits of short, similar
/// ids (`C1`, `C2`, …) poorly mixed.
fn id_hash(id: &str) -> u64 {
    let mut h = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Spearman's rank correlation (average ranks for ties); none below two pairs or when
/// either side is constant.
pub fn spearman(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.len() < 2 {
        return None;
    }
    let xs: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    pearson(&ranks(&xs), &ranks(&ys))
}

/// 1-based ranks, ties sharing the average of their ranks.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let tied = order[start..]
            .iter()
            .take_while(|&&i| values[i] == values[order[start]])
            .count();
        let rank = start as f64 + (tied as f64 + 1.0) / 2.0;
        for &i in &order[start..start + tied] {
            out[i] = rank;
        }
        start += tied;
    }
    out
}

fn pearson(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    let r = sxy / (sxx * syy).sqrt();
    r.is_finite().then(|| r.clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_matches_a_known_value() {
        // scipy.stats.spearmanr([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]).statistic = 0.8207826816681233
        // By hand: ranks x = 1..5, ranks y = 1, 2, 3.5, 5, 3.5 (the two 7s share 3.5);
        // both mean 3; dx = -2,-1,0,1,2, dy = -2,-1,0.5,2,0.5
        // → sum dx·dy = 4+1+0+2+1 = 8, sum dx² = 10, sum dy² = 4+1+0.25+4+0.25 = 9.5,
        // r = 8 / sqrt(95) = 0.8207826816681233.
        let pairs = [(1.0, 5.0), (2.0, 6.0), (3.0, 7.0), (4.0, 8.0), (5.0, 7.0)];
        let r = spearman(&pairs).expect("defined");
        assert!((r - 0.820_782_681_668_123_3).abs() < 1e-12, "{r}");
    }

    #[test]
    fn spearman_edges() {
        assert_eq!(spearman(&[(1.0, 2.0)]), None);
        assert_eq!(spearman(&[(1.0, 2.0), (2.0, 2.0)]), None);
        let reversed = [(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)];
        assert!((spearman(&reversed).expect("defined") + 1.0).abs() < 1e-12);
    }

    #[test]
    fn share_is_validated_and_selection_is_deterministic() {
        for bad in [0.0, -0.1, 1.5, f64::NAN] {
            assert!(ShadowOptions::new("v".into(), bad).is_err(), "{bad}");
        }
        assert!(ShadowOptions::new("v".into(), 1.0).is_ok());
        assert!(selected("anyone", 1.0));
        let picked = (0..10_000)
            .filter(|i| selected(&format!("C{i}"), 0.1))
            .count();
        assert!((800..1200).contains(&picked), "{picked}");
        assert_eq!(selected("C42", 0.3), selected("C42", 0.3));
    }
}
