//! Prometheus metrics: requests and latency by route pattern (never the raw path, which
//! may hold customer data) and status, the model version being served, reloads, and
//! scoring panics.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub model: IntGaugeVec,
    pub reloads: IntCounterVec,
    /// Records whose scoring panicked (a bug): each one was answered with a 500.
    pub scoring_panics: IntCounter,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("custscore".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Request latency by route")
                .buckets(vec![
                    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
                ]),
            &["route", "method"],
        )?;
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
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(model.clone()))?;
        registry.register(Box::new(reloads.clone()))?;
        registry.register(Box::new(scoring_panics.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            model,
            reloads,
            scoring_panics,
        })
    }

    /// Point the model gauge at the version now served.
    pub fn serving(&self, version: &str) {
        self.model.reset();
        self.model.with_label_values(&[version]).set(1);
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding our own registry into a Vec cannot fail on valid metric names.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}
