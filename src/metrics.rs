//! The instance's metrics (DESIGN §12), kept with `prometheus-client` and served at `/metrics` in
//! the Prometheus text format: requests by route pattern, method and status with their latency,
//! the outbox backlogs (read from the database at each scrape, so every instance reports the
//! shared queue), deliveries and failed attempts, expiry passes and the seats they and the people
//! change. Counters count what this instance did since it started. No tenant data is kept: labels
//! are route patterns and fixed words, never ids or addresses.

use std::time::Duration;

use jiff::Timestamp;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::db::{self, Db, DbResult};
use crate::ops::expiry::PassReport;

/// The `Content-Type` of what `render` writes.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The two outboxes, as the `kind` label names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outbox {
    Email,
    Webhook,
}

impl Outbox {
    fn label(self) -> OutboxLabels {
        OutboxLabels {
            kind: match self {
                Outbox::Email => "email",
                Outbox::Webhook => "webhook",
            },
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboxLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ItemLabels {
    item: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// Why seats returned to their batch, as the `reason` label says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeatsEnded {
    Released,
    UserDeactivated,
    UserDeleted,
    BatchExpired,
}

/// Every metric of one application instance.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Histogram>,
    outbox_waiting: Family<OutboxLabels, Gauge>,
    outbox_oldest_age: Family<OutboxLabels, Gauge>,
    deliveries: Family<OutboxLabels, Counter>,
    delivery_failures: Family<OutboxLabels, Counter>,
    pass_duration: Histogram,
    pass_items: Family<ItemLabels, Counter>,
    seats_allocated: Counter,
    seats_released: Family<ReasonLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// 1 ms to about 16 s, doubling: page times and pass times both fall well inside.
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 2.0, 15)
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("seatledger");
        let requests = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(latency_buckets())
        });
        registry.register(
            "http_request_duration_seconds",
            "Requests answered, by route pattern, method and status, and how long each took",
            requests.clone(),
        );
        let outbox_waiting = Family::default();
        registry.register(
            "outbox_waiting",
            "Emails or webhook deliveries waiting to be delivered (kind: email or webhook)",
            outbox_waiting.clone(),
        );
        let outbox_oldest_age = Family::default();
        registry.register(
            "outbox_oldest_age_seconds",
            "How long the oldest waiting email or webhook delivery has waited (0 when none waits)",
            outbox_oldest_age.clone(),
        );
        let deliveries = Family::default();
        registry.register(
            "deliveries",
            "Emails and webhooks this instance delivered",
            deliveries.clone(),
        );
        let delivery_failures = Family::default();
        registry.register(
            "delivery_failures",
            "Failed delivery attempts of this instance (each is retried with backoff)",
            delivery_failures.clone(),
        );
        let pass_duration = Histogram::new(latency_buckets());
        registry.register(
            "expiry_pass_duration_seconds",
            "How long each expiry pass took",
            pass_duration.clone(),
        );
        let pass_items = Family::default();
        registry.register(
            "expiry_pass_items",
            "Trials and batches the expiry passes acted on, by what happened to them",
            pass_items.clone(),
        );
        let seats_allocated = Counter::default();
        registry.register(
            "seats_allocated",
            "Seats allocated to learners through this instance",
            seats_allocated.clone(),
        );
        let seats_released = Family::default();
        registry.register(
            "seats_released",
            "Seats that returned to their batch or ended with it, by reason",
            seats_released.clone(),
        );
        Self {
            registry,
            requests,
            outbox_waiting,
            outbox_oldest_age,
            deliveries,
            delivery_failures,
            pass_duration,
            pass_items,
            seats_allocated,
            seats_released,
        }
    }

    /// One answered request. `route` is the matched pattern (`/company/users/{id}`), never the
    /// path itself, so ids do not multiply the series; an unmatched path counts as `unmatched`.
    pub fn request(&self, method: &str, route: Option<&str>, status: u16, took: Duration) {
        let method = match method {
            "GET" => "GET",
            "POST" => "POST",
            "HEAD" => "HEAD",
            "PUT" => "PUT",
            "PATCH" => "PATCH",
            "DELETE" => "DELETE",
            _ => "other",
        };
        let labels = RequestLabels {
            method,
            route: route.unwrap_or("unmatched").to_owned(),
            status,
        };
        self.requests
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    pub fn delivered(&self, outbox: Outbox, n: u64) {
        self.deliveries.get_or_create(&outbox.label()).inc_by(n);
    }

    pub fn delivery_failed(&self, outbox: Outbox, n: u64) {
        self.delivery_failures
            .get_or_create(&outbox.label())
            .inc_by(n);
    }

    /// One expiry pass: how long it took and what it did.
    pub fn pass(&self, took: Duration, report: &PassReport) {
        self.pass_duration.observe(took.as_secs_f64());
        for (item, n) in [
            ("trials_ending", report.trials_ending),
            ("trials_expired", report.trials_expired),
            ("batches_expiring", report.batches_expiring),
            ("batches_expired", report.batches_expired),
        ] {
            self.pass_items
                .get_or_create(&ItemLabels { item })
                .inc_by(n);
        }
    }

    pub fn seats_allocated(&self, n: u64) {
        self.seats_allocated.inc_by(n);
    }

    pub fn seats_ended(&self, why: SeatsEnded, n: u64) {
        let reason = match why {
            SeatsEnded::Released => "released",
            SeatsEnded::UserDeactivated => "user_deactivated",
            SeatsEnded::UserDeleted => "user_deleted",
            SeatsEnded::BatchExpired => "batch_expired",
        };
        self.seats_released
            .get_or_create(&ReasonLabels { reason })
            .inc_by(n);
    }

    /// Reads the outbox backlogs at `now` and writes every metric in the Prometheus text format.
    pub async fn render(&self, db: &Db, now: Timestamp) -> DbResult<String> {
        for (outbox, backlog) in [
            (Outbox::Email, db::outbox::backlog(db).await?),
            (Outbox::Webhook, db::webhooks::backlog(db).await?),
        ] {
            let labels = outbox.label();
            self.outbox_waiting
                .get_or_create(&labels)
                .set(backlog.waiting);
            let age = backlog
                .oldest
                .map_or(0, |oldest| (now.as_second() - oldest.as_second()).max(0));
            self.outbox_oldest_age.get_or_create(&labels).set(age);
        }
        let mut text = String::new();
        prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String does not fail");
        Ok(text)
    }
}
