//! Requests and their latency by route pattern, method and status. Each worker thread
//! counts in cache lines of its own ([`AtomicCounts`]) and a scrape adds them up: the
//! `prometheus` crate's counter and histogram are atomics that every worker writes, so
//! two workers answering at once would pass those lines between cores on every request.

use crate::monitoring::counts::AtomicCounts;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, LabelPair, MetricFamily, MetricType};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Upper bounds (seconds) of the latency buckets.
const BOUNDS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];
/// A series' counters: requests per bucket (the last one above every bound), then the
/// latency sum in nanoseconds (an integer, so that it adds without a compare-and-swap).
const NANOS: usize = BOUNDS.len() + 1;

/// The requests of one (route, method, status).
pub struct Series {
    route: String,
    method: String,
    status: u16,
    counts: AtomicCounts,
}

impl Series {
    pub fn is(&self, route: &str, method: &str, status: u16) -> bool {
        self.status == status && self.method == method && self.route == route
    }

    /// Count one request that took `seconds`.
    pub fn observe(&self, seconds: f64) {
        let bucket = BOUNDS.partition_point(|&bound| bound < seconds);
        self.counts.hit(bucket);
        // `as` saturates: a negative or NaN duration adds nothing.
        self.counts.add(NANOS, (seconds * 1e9) as u64);
    }
}

/// The request series of one registry: found or added by the workers, read by a scrape
/// (clones share the series).
#[derive(Clone)]
pub struct RequestMetrics {
    series: Arc<Mutex<Vec<Arc<Series>>>>,
    descs: [Desc; 2],
}

impl RequestMetrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let desc = |name: &str, help: &str, labels: &[&str]| {
            let labels = labels.iter().map(|l| l.to_string()).collect();
            Desc::new(name.into(), help.into(), labels, HashMap::new())
        };
        Ok(RequestMetrics {
            series: Arc::default(),
            descs: [
                desc(
                    "http_requests_total",
                    "HTTP requests by route, method and status",
                    &["route", "method", "status"],
                )?,
                desc(
                    "http_request_duration_seconds",
                    "Request latency by route",
                    &["route", "method"],
                )?,
            ],
        })
    }

    /// The series of (route, method, status), added on first use.
    pub fn series(&self, route: &str, method: &str, status: u16) -> Arc<Series> {
        let mut all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let found = all.iter().find(|s| s.is(route, method, status));
        if let Some(series) = found {
            return Arc::clone(series);
        }
        let series = Arc::new(Series {
            route: route.to_string(),
            method: method.to_string(),
            status,
            counts: AtomicCounts::new(NANOS + 1),
        });
        all.push(Arc::clone(&series));
        series
    }

    fn families(&self) -> [MetricFamily; 2] {
        let all = self
            .series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut requests = Vec::with_capacity(all.len());
        // Latency is by route and method: the statuses of one pair add up.
        let mut latency: BTreeMap<(&str, &str), Vec<u64>> = BTreeMap::new();
        for series in &all {
            let counts = series.counts.snapshot().0;
            let buckets = &counts[..NANOS];
            let mut counter = proto::Counter::default();
            counter.set_value(buckets.iter().sum::<u64>() as f64);
            let mut metric = labelled(&[
                ("method", &series.method),
                ("route", &series.route),
                ("status", &series.status.to_string()),
            ]);
            metric.set_counter(counter);
            requests.push(metric);
            let sums = latency
                .entry((&series.route, &series.method))
                .or_insert_with(|| vec![0; NANOS + 1]);
            for (sum, count) in sums.iter_mut().zip(&counts) {
                *sum += count;
            }
        }
        let latency = latency
            .into_iter()
            .map(|((route, method), counts)| {
                let mut metric = labelled(&[("method", method), ("route", route)]);
                metric.set_histogram(histogram(&counts));
                metric
            })
            .collect();
        [
            family(&self.descs[0], MetricType::COUNTER, requests),
            family(&self.descs[1], MetricType::HISTOGRAM, latency),
        ]
    }
}

impl Collector for RequestMetrics {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.families().into()
    }
}

/// A metric with these labels (in name order, as the text format expects them).
fn labelled(labels: &[(&str, &str)]) -> proto::Metric {
    let pairs = labels
        .iter()
        .map(|(name, value)| {
            let mut pair = LabelPair::default();
            pair.set_name(name.to_string());
            pair.set_value(value.to_string());
            pair
        })
        .collect();
    proto::Metric::from_label(pairs)
}

/// The histogram of a series' counters: cumulative buckets, count and sum in seconds.
fn histogram(counts: &[u64]) -> proto::Histogram {
    let mut cumulative = 0;
    let buckets = BOUNDS
        .iter()
        .zip(counts)
        .map(|(&bound, &count)| {
            cumulative += count;
            let mut bucket = proto::Bucket::default();
            bucket.set_upper_bound(bound);
            bucket.set_cumulative_count(cumulative);
            bucket
        })
        .collect();
    let mut histogram = proto::Histogram::default();
    histogram.set_bucket(buckets);
    histogram.set_sample_count(counts[..NANOS].iter().sum());
    histogram.set_sample_sum(counts[NANOS] as f64 / 1e9);
    histogram
}

fn family(desc: &Desc, kind: MetricType, metrics: Vec<proto::Metric>) -> MetricFamily {
    let mut family = MetricFamily::default();
    family.set_name(desc.fq_name.clone());
    family.set_help(desc.help.clone());
    family.set_field_type(kind);
    family.set_metric(metrics);
    family
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_from_many_threads_add_up_in_their_series() {
        let metrics = RequestMetrics::new().unwrap();
        std::thread::scope(|scope| {
            for t in 0..11 {
                let metrics = &metrics;
                scope.spawn(move || {
                    let ok = metrics.series("/v1/score", "POST", 200);
                    let bad = metrics.series("/v1/score", "POST", 400);
                    for i in 0..100 {
                        ok.observe(0.0003);
                        if (t + i) % 4 == 0 {
                            bad.observe(2.0);
                        }
                    }
                });
            }
        });
        let [requests, latency] = metrics.families();
        let count = |status: &str| -> f64 {
            requests
                .get_metric()
                .iter()
                .find(|m| m.get_label()[2].value() == status)
                .map(|m| m.get_counter().get_value())
                .unwrap()
        };
        assert_eq!(count("200"), 1_100.0);
        assert_eq!(count("400"), 275.0);
        // One histogram for the route and method, both statuses in it.
        assert_eq!(latency.get_metric().len(), 1);
        let histogram = latency.get_metric()[0].get_histogram();
        assert_eq!(histogram.get_sample_count(), 1_375);
        let sum = histogram.get_sample_sum();
        assert!(
            (sum - (1_100.0 * 0.0003 + 275.0 * 2.0)).abs() < 1e-6,
            "{sum}"
        );
        let buckets = histogram.get_bucket();
        // 0.0003 s falls in the 0.0005 bucket (le), 2 s above every bound.
        assert_eq!(buckets[1].cumulative_count(), 0);
        assert_eq!(buckets[2].cumulative_count(), 1_100);
        assert_eq!(buckets[11].cumulative_count(), 1_100);
    }

    #[test]
    fn a_latency_on_a_bound_falls_in_its_bucket() {
        let metrics = RequestMetrics::new().unwrap();
        let series = metrics.series("/healthz", "GET", 200);
        series.observe(0.001);
        let [_, latency] = metrics.families();
        let buckets = latency.get_metric()[0].get_histogram().get_bucket();
        assert_eq!(buckets[2].cumulative_count(), 0);
        assert_eq!(buckets[3].cumulative_count(), 1);
    }
}
