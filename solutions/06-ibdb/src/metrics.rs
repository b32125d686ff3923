//! Request counts and latency histograms in the Prometheus text format,
//! without a metrics library: one map behind a mutex held for microseconds.

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{Method, StatusCode, header},
    response::IntoResponse,
};

/// Upper bounds of the latency buckets, in seconds (Prometheus' defaults).
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default)]
struct Series {
    /// Counts per bucket, not cumulative; made cumulative when rendered.
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Series by route template, then by method and status. Keyed by route
/// first so recording a request looks its series up by `&str`, allocating
/// only for a series never seen before.
type Table = BTreeMap<String, BTreeMap<(&'static str, u16), Series>>;

#[derive(Debug, Clone, Default)]
pub struct Metrics {
    series: Arc<Mutex<Table>>,
}

impl Metrics {
    fn observe(&self, method: &'static str, route: &str, status: u16, seconds: f64) {
        let mut table = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let by_route = match table.get_mut(route) {
            Some(by_route) => by_route,
            None => table.entry(route.to_string()).or_default(),
        };
        let series = by_route.entry((method, status)).or_default();
        series.count += 1;
        series.sum += seconds;
        if let Some(i) = BUCKETS.iter().position(|&bound| seconds <= bound) {
            series.buckets[i] += 1;
        }
    }

    /// The text exposition format, version 0.0.4, series ordered by
    /// method, route and status.
    pub fn render(&self) -> String {
        let table = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let mut series: Vec<_> = table
            .iter()
            .flat_map(|(route, by_route)| {
                by_route
                    .iter()
                    .map(move |(&(method, status), s)| ((method, route.as_str(), status), s))
            })
            .collect();
        series.sort_by_key(|(key, _)| *key);
        let mut out = String::new();
        out.push_str("# HELP http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for (key, s) in &series {
            let _ = writeln!(out, "http_requests_total{{{}}} {}", labels(*key), s.count);
        }
        out.push_str("# HELP http_request_duration_seconds Time to answer HTTP requests.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for (key, s) in &series {
            let labels = labels(*key);
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(s.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        out
    }
}

fn labels((method, route, status): (&str, &str, u16)) -> String {
    // Methods and route templates come from our own router, never from the
    // client, so they need no escaping.
    format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"")
}

// ANCHOR: track
/// One request being timed, labelled by its route *template* (`/books/{id}`,
/// not `/books/42`, which would make one series per book). `guard` starts
/// one for every request and records it with the final status.
pub struct Timer {
    start: Instant,
    method: &'static str,
    /// Shares the router's string: no copy per request.
    route: Option<MatchedPath>,
}

impl Metrics {
    pub fn start(&self, request: &Request) -> Timer {
        // Any token is a valid method; only the standard ones get their own label.
        let method = match *request.method() {
            Method::GET => "GET",
            Method::HEAD => "HEAD",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
            Method::OPTIONS => "OPTIONS",
            _ => "other",
        };
        Timer {
            start: Instant::now(),
            method,
            route: request.extensions().get::<MatchedPath>().cloned(),
        }
    }

    /// Counts the request; returns how long it took, for the log.
    pub fn record(&self, timer: Timer, status: StatusCode) -> Duration {
        let route = timer
            .route
            .as_ref()
            .map_or("unmatched", MatchedPath::as_str);
        let elapsed = timer.start.elapsed();
        self.observe(timer.method, route, status.as_u16(), elapsed.as_secs_f64());
        elapsed
    }
}
// ANCHOR_END: track

/// `GET /metrics`.
pub async fn export(State(metrics): State<Metrics>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
}
