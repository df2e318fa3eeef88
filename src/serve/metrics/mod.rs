//! Prometheus metrics: requests and latency by route pattern (never the raw path, which
//! may hold customer data) and status, the model version being served, reloads, and
//! scoring panics.

mod requests;

use crate::monitoring::DriftReport;
use prometheus::{
    Encoder, Gauge, GaugeVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use requests::RequestMetrics;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub struct Metrics {
    /// Tells this registry's series apart in the workers' caches.
    id: u64,
    registry: Registry,
    requests: RequestMetrics,
    pub model: IntGaugeVec,
    pub reloads: IntCounterVec,
    /// Records whose scoring panicked (a bug): each one was answered with a 500.
    pub scoring_panics: IntCounter,
    /// Audit lines lost: not written (disk full, file gone) or dropped (queue full).
    pub audit_failures: IntCounter,
    drift: DriftGauges,
}

/// One request series (route pattern, method, status) of one registry, resolved.
struct Series {
    metrics: u64,
    series: Arc<requests::Series>,
}

/// Series a worker thread keeps; routes, methods and statuses are few, so this is a
/// guard against a bug, not a working limit.
const SERIES_PER_THREAD: usize = 256;

thread_local! {
    static SERIES: RefCell<Vec<Series>> = const { RefCell::new(Vec::new()) };
}

/// Drift of the monitoring window, set from a fresh report at each scrape.
struct DriftGauges {
    records: IntGauge,
    /// (psi, missing rate, unseen rate, out-of-range rate, status 0/1/2) by input.
    input: [GaugeVec; 5],
    /// PSI and status by score (`churn_probability`, `segment`).
    score: [GaugeVec; 2],
}

impl DriftGauges {
    fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let vec = |name: &str, help: &str, label: &str| -> Result<GaugeVec, prometheus::Error> {
            let g = GaugeVec::new(Opts::new(name, help), &[label])?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let records = IntGauge::new(
            "monitoring_window_records",
            "Scored records in the drift monitoring window",
        )?;
        registry.register(Box::new(records.clone()))?;
        Ok(DriftGauges {
            records,
            input: [
                vec(
                    "input_psi",
                    "PSI of each input, window vs training",
                    "input",
                )?,
                vec(
                    "input_missing_rate",
                    "Share of window records missing the input",
                    "input",
                )?,
                vec(
                    "input_unseen_rate",
                    "Share of present values never seen in training",
                    "input",
                )?,
                vec(
                    "input_out_of_range_rate",
                    "Share of present values outside the training range",
                    "input",
                )?,
                vec(
                    "input_drift_status",
                    "0 ok, 1 warn, 2 alert (PSI thresholds)",
                    "input",
                )?,
            ],
            score: [
                vec("score_psi", "PSI of a score, window vs training", "score")?,
                vec(
                    "score_drift_status",
                    "0 ok, 1 warn, 2 alert (PSI thresholds)",
                    "score",
                )?,
            ],
        })
    }

    fn set(&self, report: Option<&DriftReport>) {
        self.input
            .iter()
            .chain(&self.score)
            .for_each(GaugeVec::reset);
        let Some(report) = report else {
            self.records.set(0);
            return;
        };
        self.records.set(report.records as i64);
        for d in &report.inputs {
            let values = [
                Some(d.psi),
                Some(d.missing_rate),
                d.unseen_rate,
                d.out_of_range_rate,
                Some(d.status as u8 as f64),
            ];
            for (gauge, value) in self.input.iter().zip(values) {
                if let Some(v) = value {
                    gauge.with_label_values(&[d.input.as_str()]).set(v);
                }
            }
        }
        let scores = [
            ("churn_probability", &report.churn_probability),
            ("segment", &report.segments),
        ];
        for (name, drift) in scores {
            if let Some(d) = drift {
                self.score[0].with_label_values(&[name]).set(d.psi);
                self.score[1]
                    .with_label_values(&[name])
                    .set(d.status as u8 as f64);
            }
        }
    }
}

/// Shadow scoring: records compared, records dropped, and the agreement gauges (set at
/// each scrape and each `GET /v1/models`). Registered only when shadowing is on.
#[derive(Clone)]
pub struct ShadowMetrics {
    pub records: IntCounter,
    pub dropped: IntCounter,
    /// Records the challenger failed on, by kind (`error`, `panic`).
    pub failures: IntCounterVec,
    /// 1 while shadowing, 0 once it stopped.
    pub active: IntGauge,
    same_band: Gauge,
    same_segment: Gauge,
    spearman: Gauge,
}

impl ShadowMetrics {
    fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let counter = |name: &str, help: &str| -> Result<IntCounter, prometheus::Error> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let gauge = |name: &str, help: &str| -> Result<Gauge, prometheus::Error> {
            let g = Gauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        Ok(ShadowMetrics {
            records: counter(
                "shadow_records_total",
                "Shadowed records scored by both champion and challenger",
            )?,
            dropped: counter(
                "shadow_dropped_total",
                "Records selected for shadowing but dropped (queue full)",
            )?,
            failures: {
                let c = IntCounterVec::new(
                    Opts::new(
                        "shadow_failures_total",
                        "Shadowed records the challenger refused (error) or panicked on",
                    ),
                    &["kind"],
                )?;
                registry.register(Box::new(c.clone()))?;
                for kind in ["error", "panic"] {
                    c.with_label_values(&[kind]);
                }
                c
            },
            active: {
                let g = IntGauge::new("shadow_active", "1 while shadowing, 0 once stopped")?;
                registry.register(Box::new(g.clone()))?;
                g
            },
            same_band: gauge(
                "shadow_same_band_ratio",
                "Share of shadowed records in the same risk band",
            )?,
            same_segment: gauge(
                "shadow_same_segment_ratio",
                "Share of shadowed records in the same segment",
            )?,
            spearman: gauge(
                "shadow_probability_spearman",
                "Spearman rank correlation of churn probabilities (newest pairs)",
            )?,
        })
    }

    /// Set the gauges from a report; an undefined figure reads NaN.
    pub fn set(&self, report: &super::shadow::ShadowReport) {
        self.same_band.set(report.same_band.unwrap_or(f64::NAN));
        self.same_segment
            .set(report.same_segment.unwrap_or(f64::NAN));
        self.spearman.set(report.spearman.unwrap_or(f64::NAN));
    }
}

impl Metrics {
    /// Register the shadow scoring metrics (once, when shadowing is on).
    pub fn shadow(&self) -> Result<ShadowMetrics, prometheus::Error> {
        ShadowMetrics::new(&self.registry)
    }

    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("custscore".into()), None)?;
        let requests = RequestMetrics::new()?;
        let model = IntGaugeVec::new(
            Opts::new("model_info", "1 for the bundle version being served"),
            &["version"],
        )?;
        let reloads = IntCounterVec::new(
            Opts::new("model_reloads_total", "Bundle reloads by outcome"),
            &["outcome"],
        )?;
        let scoring_panics = IntCounter::new(
            "scoring_panics_total",
            "Records whose scoring panicked and were answered with an internal error",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(model.clone()))?;
        registry.register(Box::new(reloads.clone()))?;
        registry.register(Box::new(scoring_panics.clone()))?;
        let audit_failures = IntCounter::new(
            "audit_failures_total",
            "Audit lines that could not be written (or were dropped with the queue full)",
        )?;
        registry.register(Box::new(audit_failures.clone()))?;
        let drift = DriftGauges::new(&registry)?;
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Ok(Metrics {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            drift,
            registry,
            requests,
            model,
            reloads,
            scoring_panics,
            audit_failures,
        })
    }

    /// Count and time one request. Each worker thread keeps the series it has used, so
    /// a request neither looks its labels up under a lock nor writes a line another
    /// worker writes (`requests`).
    pub fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        SERIES.with(|cell| {
            let mut series = cell.borrow_mut();
            let found = series
                .iter()
                .position(|s| s.metrics == self.id && s.series.is(route, method, status));
            let at = found.unwrap_or_else(|| {
                if series.len() >= SERIES_PER_THREAD {
                    series.clear();
                }
                series.push(Series {
                    metrics: self.id,
                    series: self.requests.series(route, method, status),
                });
                series.len() - 1
            });
            series[at].series.observe(seconds);
        });
    }

    /// Point the model gauge at the version now served.
    pub fn serving(&self, version: &str) {
        self.model.reset();
        self.model.with_label_values(&[version]).set(1);
    }

    /// Set the drift gauges from the window's report (none: monitoring is off).
    pub fn drift(&self, report: Option<&DriftReport>) {
        self.drift.set(report);
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding our own registry into a Vec cannot fail on valid metric names.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}
