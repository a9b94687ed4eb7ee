//! Webhook delivery against a real HTTP receiver, every signature checked by the
//! `standardwebhooks` crate: an endpoint that is down then up gets each event once per
//! `webhook-id`, a failed answer is retried under the same id, two workers deliver each event
//! once, private targets are refused at registration and at delivery, an endpoint failing for
//! three days is disabled and its owner emailed, Redeliver resends the same id, a rotated secret
//! signs beside the new one for a day, and secrets are stored sealed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::http::StatusCode;
use base64::Engine;
use jiff::{SignedDuration, Timestamp};
use seatledger::clock::{Clock, ManualClock};
use seatledger::db::webhooks::{self as store, Owner};
use seatledger::db::{Actor, Db, Scope};
use seatledger::domain::webhooks::{EventTypes, WebhookUrl};
use seatledger::domain::{CompanyId, EndpointId, InvalidValue, PartnerId, Role, UserId};
use seatledger::jobs::webhooks::{WebhookReport, deliver_due};
use seatledger::ops::webhooks::{self as hooks, NewWebhookEndpoint, Registered};
use seatledger::ops::{Caller, Error, Ops, Setting};
use seatledger::webhooks::client::Sender;
use seatledger::webhooks::{SecretKey, Settings};

use crate::on_both_databases;
use crate::receiver::Receiver;
use crate::support::{TestDb, World, at, caller};

pub(crate) fn t() -> Timestamp {
    at("2026-06-01T10:00:00Z")
}

pub(crate) fn settings(allow_private: bool) -> Settings {
    let key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    Settings {
        key: Some(Arc::new(SecretKey::parse(&key).unwrap())),
        allow_private,
    }
}

/// The operations on `db` on `clock`, with webhooks configured to allow private targets (the
/// receiver is on 127.0.0.1).
pub(crate) fn hook_ops(db: &Db, clock: &ManualClock) -> Ops {
    Ops::new(
        db.clone(),
        Arc::new(clock.clone()),
        "https://console.example",
    )
    .with_webhooks(settings(true))
}

/// A distributor D with two MSPs A and B beneath it, one company each, an admin for each
/// partner, and the operator.
pub(crate) struct Tree {
    pub d: PartnerId,
    pub a: PartnerId,
    pub b: PartnerId,
    pub company_a: CompanyId,
    pub company_b: CompanyId,
    pub admin_d: UserId,
    pub admin_a: UserId,
    pub admin_b: UserId,
    pub operator: UserId,
}

impl Tree {
    pub(crate) async fn build(db: &Db) -> Self {
        let world = World { db };
        let d = world.partner(None, "Distributor D").await;
        let a = world.partner(Some(d), "MSP A").await;
        let b = world.partner(Some(d), "MSP B").await;
        let company_a = world.company(a, "Alpha Ltd", t()).await;
        let company_b = world.company(b, "Bravo Ltd", t()).await;
        let admin = |partner| Role::Partner {
            partner,
            admin: true,
        };
        Self {
            d,
            a,
            b,
            company_a,
            company_b,
            admin_d: world.user("admin@d.example", admin(d), None, t()).await,
            admin_a: world.user("admin@a.example", admin(a), None, t()).await,
            admin_b: world.user("admin@b.example", admin(b), None, t()).await,
            operator: world
                .user("operator@example.com", Role::Operator, None, t())
                .await,
        }
    }

    /// An admin of `partner` (one of D, A, B) as a caller.
    pub(crate) fn admin(&self, partner: PartnerId) -> Caller {
        let user = [
            (self.d, self.admin_d),
            (self.a, self.admin_a),
            (self.b, self.admin_b),
        ]
        .into_iter()
        .find(|(p, _)| *p == partner)
        .unwrap()
        .1;
        caller(&Scope::Partner(partner), Actor::user(user))
    }

    pub(crate) fn operator(&self) -> Caller {
        caller(&Scope::Operator, Actor::user(self.operator))
    }
}

/// Registers an endpoint at `url` for `types` as `caller`.
pub(crate) async fn register(ops: &Ops, caller: &Caller, url: &str, types: &[&str]) -> Registered {
    let new = NewWebhookEndpoint {
        url: WebhookUrl::parse(url).unwrap(),
        event_types: EventTypes::parse(types.iter().copied()).unwrap(),
    };
    hooks::create(ops, caller, &new).await.unwrap()
}

/// `n` learners added to `company` by its partner's admin: `n` `user.created` events.
pub(crate) async fn add_learners(
    ops: &Ops,
    tree: &Tree,
    company: CompanyId,
    n: usize,
) -> Vec<UserId> {
    let partner = if company == tree.company_a {
        tree.a
    } else {
        tree.b
    };
    let caller = tree.admin(partner);
    let company = seatledger::ops::authorise(ops, &caller, company)
        .await
        .unwrap();
    let mut users = Vec::new();
    for i in 0..n {
        let person = seatledger::ops::users::NewPerson {
            email: seatledger::domain::Email::parse(&format!(
                "learner-{}@{}.example",
                &seatledger::db::sessions::new_token()[..12],
                company.id()
            ))
            .unwrap(),
            first_name: seatledger::domain::PersonName::parse("Lee").unwrap(),
            last_name: seatledger::domain::PersonName::parse(&format!("Learner {i}")).unwrap(),
            department: None,
            manager: false,
            learner: true,
        };
        let added = seatledger::ops::users::add(ops, &caller, &company, &person)
            .await
            .unwrap();
        users.push(added.user);
    }
    users
}

on_both_databases!(
    an_endpoint_that_is_down_then_up_receives_each_event_once_per_webhook_id,
    a_failed_answer_is_retried_with_the_same_webhook_id,
    two_workers_deliver_each_event_once,
    private_targets_are_refused_at_registration_and_at_delivery,
    an_endpoint_failing_for_three_days_is_disabled_and_its_owner_emailed,
    redeliver_sends_the_same_webhook_id_again,
    a_rotated_secret_signs_beside_the_new_one_for_a_day,
    secrets_are_stored_sealed_and_nothing_is_signed_without_the_key,
    endpoints_registered_at_once_stop_at_the_limit,
);

/// One endpoint short of the limit, six registered at once: one is registered, five are
/// refused, and the partner holds exactly the limit.
async fn endpoints_registered_at_once_stop_at_the_limit(db: TestDb) {
    let tree = Tree::build(&db).await;
    let ops = hook_ops(&db, &ManualClock::at(t()));
    let admin = tree.admin(tree.a);
    for i in 1..hooks::MAX_ENDPOINTS {
        let url = format!("http://127.0.0.1:9/hook{i}");
        register(&ops, &admin, &url, &["user.created"]).await;
    }
    let racers: Vec<_> = (0..6)
        .map(|i| {
            let ops = ops.clone();
            let new = NewWebhookEndpoint {
                url: WebhookUrl::parse(&format!("http://127.0.0.1:9/racer{i}")).unwrap(),
                event_types: EventTypes::parse(["user.created"]).unwrap(),
            };
            tokio::spawn(async move { hooks::create(&ops, &admin, &new).await })
        })
        .collect();
    let mut registered = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(_) => registered += 1,
            Err(seatledger::ops::Error::Conflict(seatledger::ops::Conflict::EndpointLimit(_))) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(registered, 1);
    let held: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints WHERE partner_id = $1")
            .bind(tree.a.0)
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(held, i64::from(hooks::MAX_ENDPOINTS));
}

async fn an_endpoint_that_is_down_then_up_receives_each_event_once_per_webhook_id(db: TestDb) {
    let tree = Tree::build(&db).await;
    let clock = ManualClock::at(t());
    let ops = hook_ops(&db, &clock);
    let (url, addr) = Receiver::unused_url();
    let endpoint = register(&ops, &tree.admin(tree.a), &url, &["user.created"]).await;
    add_learners(&ops, &tree, tree.company_a, 3).await;
    let sender = Sender::new(true);

    let down = deliver_due(&ops, &sender, t()).await.unwrap();
    assert_eq!(
        down,
        WebhookReport {
            delivered: 0,
            failed_attempts: 3
        }
    );
    let log = store::deliveries(&db, Owner::Partner(tree.a), endpoint.endpoint, None, 10)
        .await
        .unwrap()
        .items;
    assert!(
        log.iter()
            .all(|d| d.attempts == 1 && d.last_response_code.is_none())
    );
    assert!(
        log.iter().all(|d| d
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("onnect"))),
        "{log:?}"
    );

    let receiver = Receiver::start_on(addr).await;
    let early = deliver_due(&ops, &sender, t() + SignedDuration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        early,
        WebhookReport::default(),
        "not due before the first retry"
    );
    let up = deliver_due(&ops, &sender, t() + SignedDuration::from_mins(1))
        .await
        .unwrap();
    assert_eq!(up.delivered, 3);
    deliver_due(&ops, &sender, t() + SignedDuration::from_hours(80))
        .await
        .unwrap();

    let received = receiver.verified(&endpoint.secret);
    let ids: HashSet<&str> = received.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        (received.len(), ids.len()),
        (3, 3),
        "each webhook-id exactly once"
    );
    let stored: HashSet<String> = log.iter().map(|d| d.webhook_id.clone()).collect();
    assert_eq!(ids, stored.iter().map(String::as_str).collect());
    for r in &received {
        assert_eq!(
            r.timestamp,
            (t() + SignedDuration::from_mins(1)).as_second()
        );
        assert_eq!(r.headers["content-type"], "application/json");
    }
}

async fn a_failed_answer_is_retried_with_the_same_webhook_id(db: TestDb) {
    let tree = Tree::build(&db).await;
    let clock = ManualClock::at(t());
    let ops = hook_ops(&db, &clock);
    let receiver = Receiver::start().await;
    let endpoint = register(
        &ops,
        &tree.admin(tree.a),
        &receiver.url(),
        &["user.created"],
    )
    .await;
    add_learners(&ops, &tree, tree.company_a, 1).await;
    receiver.fail_next(2, StatusCode::SERVICE_UNAVAILABLE);
    let sender = Sender::new(true);
    let mut now = t();
    let mut reports = Vec::new();
    for _ in 0..3 {
        reports.push(deliver_due(&ops, &sender, now).await.unwrap());
        let log = store::deliveries(&db, Owner::Partner(tree.a), endpoint.endpoint, None, 1)
            .await
            .unwrap()
            .items;
        now = log[0].next_attempt_at;
    }
    let failed = WebhookReport {
        delivered: 0,
        failed_attempts: 1,
    };
    let delivered = WebhookReport {
        delivered: 1,
        failed_attempts: 0,
    };
    assert_eq!(reports, [failed, failed, delivered]);
    let received = receiver.verified(&endpoint.secret);
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|r| r.id == received[0].id));
    assert!(
        received.iter().all(|r| r.body == received[0].body),
        "the body is the same bytes"
    );
    let detail = hooks::delivery(
        &ops,
        &tree.admin(tree.a),
        delivery_id(&db, endpoint.endpoint).await,
    )
    .await
    .unwrap();
    let codes: Vec<Option<i64>> = detail.attempts.iter().map(|a| a.response_code).collect();
    assert_eq!(codes, [Some(204), Some(503), Some(503)], "newest first");
    assert!(detail.attempts[1].error.as_deref().unwrap().contains("503"));
}

async fn delivery_id(db: &Db, endpoint: EndpointId) -> seatledger::domain::DeliveryId {
    seatledger::domain::DeliveryId(
        sqlx::query_scalar("SELECT MIN(id) FROM webhook_deliveries WHERE endpoint_id = $1")
            .bind(endpoint.0)
            .fetch_one(db.pool())
            .await
            .unwrap(),
    )
}

async fn two_workers_deliver_each_event_once(db: TestDb) {
    let tree = Tree::build(&db).await;
    let clock = ManualClock::at(t());
    let ops = hook_ops(&db, &clock);
    let receiver = Receiver::start().await;
    let endpoint = register(
        &ops,
        &tree.admin(tree.a),
        &receiver.url(),
        &["user.created"],
    )
    .await;
    add_learners(&ops, &tree, tree.company_a, 30).await;
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let ops = ops.clone();
            tokio::spawn(async move { deliver_due(&ops, &Sender::new(true), t()).await.unwrap() })
        })
        .collect();
    let mut delivered = 0;
    for worker in workers {
        delivered += worker.await.unwrap().delivered;
    }
    assert_eq!(delivered, 30);
    let received = receiver.verified(&endpoint.secret);
    let ids: HashSet<&str> = received.iter().map(|r| r.id.as_str()).collect();
    assert_eq!((received.len(), ids.len()), (30, 30));
}

async fn private_targets_are_refused_at_registration_and_at_delivery(db: TestDb) {
    let tree = Tree::build(&db).await;
    let clock = ManualClock::at(t());
    let strict = Ops::new(
        db.db.clone(),
        Arc::new(clock.clone()),
        "https://console.example",
    )
    .with_webhooks(settings(false));
    let receiver = Receiver::start().await;
    let port = receiver.addr.port();
    for (url, kind) in [
        (receiver.url(), "loopback"),
        (format!("http://localhost:{port}/hooks"), "loopback"),
        ("http://10.0.0.7/hooks".to_owned(), "private"),
        ("http://[::1]:8080/hooks".to_owned(), "loopback"),
        (
            "http://169.254.169.254/latest/meta-data".to_owned(),
            "link-local",
        ),
        ("http://[::ffff:192.168.0.1]/hooks".to_owned(), "private"),
    ] {
        let new = NewWebhookEndpoint {
            url: WebhookUrl::parse(&url).unwrap(),
            event_types: EventTypes::parse(["user.created"]).unwrap(),
        };
        match hooks::create(&strict, &tree.admin(tree.a), &new).await {
            Err(Error::Invalid(errors)) => {
                assert_eq!(errors[0].field, "url");
                assert!(
                    matches!(&errors[0].problem, InvalidValue::PrivateAddress { kind: k, .. } if *k == kind),
                    "{url}: {:?}",
                    errors[0].problem
                );
            }
            other => panic!("{url} was not refused: {other:?}"),
        }
    }
    assert!(
        hooks::list(&strict, &tree.admin(tree.a), None, 20)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // Registered while private targets were allowed; a worker that refuses them sends nothing.
    let endpoint = register(
        &hook_ops(&db, &clock),
        &tree.admin(tree.a),
        &receiver.url(),
        &["user.created"],
    )
    .await;
    add_learners(&strict, &tree, tree.company_a, 1).await;
    let report = deliver_due(&strict, &Sender::new(false), t())
        .await
        .unwrap();
    assert_eq!(report.failed_attempts, 1);
    assert!(receiver.received().is_empty());
    let log = store::deliveries(&db, Owner::Partner(tree.a), endpoint.endpoint, None, 1)
        .await
        .unwrap()
        .items;
    let error = log[0].last_error.as_deref().unwrap();
    assert!(
        error.contains("refused") && error.contains("loopback"),
        "{error}"
    );
}

/// Emails queued, as (kind, recipient).
async fn emails(db: &Db) -> Vec<(String, String)> {
    sqlx::query_as("SELECT kind, recipient FROM outbox WHERE kind = 'webhook_disabled' ORDER BY id")
        .fetch_all(db.pool())
        .await
        .unwrap()
}

async fn an_endpoint_failing_for_three_days_is_disabled_and_its_owner_emailed(db: TestDb) {
    let tree = Tree::build(&db).await;
    let clock = ManualClock::at(t());
    let ops = hook_ops(&db, &clock);
    let (url, _) = Receiver::unused_url();
    let endpoint = register(&ops, &tree.admin(tree.a), &url, &["user.created"]).await;
    let (dead, _) = Receiver::unused_url();
    let operators = register(&ops, &tree.operator(), &dead, &["user.created"]).await;
    let healthy = Receiver::start().await;
    let other = register(&ops, &tree.admin(tree.a), &healthy.url(), &["user.created"]).await;
    add_learners(&ops, &tree, tree.company_a, 1).await;
    let sender = Sender::new(true);
    let owner = Owner::Partner(tree.a);

    // Follow the retries with the clock, never sleeping.
    let mut now = t();
    let mut attempts = 0;
    loop {
        let report = deliver_due(&ops, &sender, now).await.unwrap();
        attempts += report.failed_attempts;
        let state = store::get(&db, owner, endpoint.endpoint).await.unwrap();
        if !state.enabled {
            assert!(state.disabled_for_failing);
            assert!(now.duration_since(t()) >= SignedDuration::from_hours(72));
            break;
        }
        assert!(
            emails(&db).await.is_empty(),
            "no email while it is still enabled"
        );
        let log = store::deliveries(&db, owner, endpoint.endpoint, None, 1)
            .await
            .unwrap()
            .items;
        assert!(
            now.duration_since(t()) < SignedDuration::from_hours(80),
            "never disabled"
        );
        now = log[0].next_attempt_at;
    }
    assert_eq!(
        attempts, 20,
        "every retry of the event, at both dead endpoints"
    );
    let operators = store::get(&db, Owner::Operator, operators.endpoint)
        .await
        .unwrap();
    assert!(!operators.enabled);
    let disabled = |to: &str| ("webhook_disabled".to_owned(), to.to_owned());
    assert_eq!(
        emails(&db).await,
        [
            disabled("admin@a.example"),
            disabled("operator@example.com")
        ],
        "each owner: the partner's admins, and the operator"
    );
    let body: String = sqlx::query_scalar(
        "SELECT body_text FROM outbox WHERE kind = 'webhook_disabled' ORDER BY id",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert!(
        body.contains(&url) && body.contains(&format!("/partner/webhooks/{}", endpoint.endpoint))
    );

    // Disabled: nothing more is tried, and new events are not queued for it.
    add_learners(&ops, &tree, tree.company_a, 1).await;
    let later = deliver_due(&ops, &sender, now + SignedDuration::from_hours(1))
        .await
        .unwrap();
    assert_eq!(later.failed_attempts, 0);
    assert_eq!(
        later.delivered, 1,
        "the healthy endpoint still gets the new event"
    );
    let queued: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = $1")
            .bind(endpoint.endpoint.0)
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(queued, 1);
    assert!(
        store::get(&db, owner, other.endpoint)
            .await
            .unwrap()
            .enabled
    );
    assert_eq!(emails(&db).await.len(), 2, "each owner emailed once");
}

async fn redeliver_sends_the_same_webhook_id_again(db: TestDb) {
    let tree = Tree::build(&db).await;
    let clock = ManualClock::at(t());
    let ops = hook_ops(&db, &clock);
    let receiver = Receiver::start().await;
    let endpoint = register(
        &ops,
        &tree.admin(tree.a),
        &receiver.url(),
        &["user.created"],
    )
    .await;
    add_learners(&ops, &tree, tree.company_a, 1).await;
    let sender = Sender::new(true);
    deliver_due(&ops, &sender, t()).await.unwrap();
    let delivery = delivery_id(&db, endpoint.endpoint).await;

    // Another partner cannot redeliver it.
    assert!(matches!(
        hooks::redeliver(&ops, &tree.admin(tree.b), delivery).await,
        Err(Error::NotFound)
    ));
    clock.set(t() + SignedDuration::from_hours(2));
    let to = hooks::redeliver(&ops, &tree.admin(tree.a), delivery)
        .await
        .unwrap();
    assert_eq!(to, endpoint.endpoint);
    let report = deliver_due(&ops, &sender, clock.now()).await.unwrap();
    assert_eq!(report.delivered, 1);

    let received = receiver.verified(&endpoint.secret);
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].id, received[1].id);
    assert_eq!(received[0].body, received[1].body);
    assert_ne!(
        received[0].timestamp, received[1].timestamp,
        "signed at each attempt's time"
    );
    let detail = hooks::delivery(&ops, &tree.admin(tree.a), delivery)
        .await
        .unwrap();
    assert_eq!(detail.attempts.len(), 2);
}

async fn a_rotated_secret_signs_beside_the_new_one_for_a_day(db: TestDb) {
    let tree = Tree::build(&db).await;
    let clock = ManualClock::at(t());
    let ops = hook_ops(&db, &clock);
    let receiver = Receiver::start().await;
    let endpoint = register(
        &ops,
        &tree.admin(tree.a),
        &receiver.url(),
        &["user.created"],
    )
    .await;
    let new = hooks::rotate_secret(&ops, &tree.admin(tree.a), endpoint.endpoint)
        .await
        .unwrap();
    assert_ne!(new, endpoint.secret);
    add_learners(&ops, &tree, tree.company_a, 1).await;
    let sender = Sender::new(true);
    deliver_due(&ops, &sender, t()).await.unwrap();
    clock.set(t() + SignedDuration::from_hours(25));
    let delivery = delivery_id(&db, endpoint.endpoint).await;
    hooks::redeliver(&ops, &tree.admin(tree.a), delivery)
        .await
        .unwrap();
    deliver_due(&ops, &sender, clock.now()).await.unwrap();

    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].signature.split(' ').count(), 2);
    assert!(received[0].signed_with(&new) && received[0].signed_with(&endpoint.secret));
    assert_eq!(
        received[1].signature.split(' ').count(),
        1,
        "a day later, only the new one"
    );
    assert!(received[1].signed_with(&new) && !received[1].signed_with(&endpoint.secret));
    // Another partner cannot rotate it.
    assert!(matches!(
        hooks::rotate_secret(&ops, &tree.admin(tree.b), endpoint.endpoint).await,
        Err(Error::NotFound)
    ));
}

async fn secrets_are_stored_sealed_and_nothing_is_signed_without_the_key(db: TestDb) {
    let tree = Tree::build(&db).await;
    let clock = ManualClock::at(t());
    let ops = hook_ops(&db, &clock);
    let receiver = Receiver::start().await;
    let endpoint = register(
        &ops,
        &tree.admin(tree.a),
        &receiver.url(),
        &["user.created"],
    )
    .await;
    let stored: Vec<String> = sqlx::query_scalar("SELECT secret FROM webhook_endpoints")
        .fetch_all(db.pool())
        .await
        .unwrap();
    let raw = endpoint.secret.trim_start_matches("whsec_");
    assert!(
        stored
            .iter()
            .all(|s| !s.contains(raw) && s.starts_with("v1:"))
    );

    let keyless = Ops::new(
        db.db.clone(),
        Arc::new(clock.clone()),
        "https://console.example",
    );
    let new = NewWebhookEndpoint {
        url: WebhookUrl::parse(&receiver.url()).unwrap(),
        event_types: EventTypes::parse(["user.created"]).unwrap(),
    };
    assert!(matches!(
        hooks::create(&keyless, &tree.admin(tree.a), &new).await,
        Err(Error::NotConfigured(Setting::SecretKey))
    ));
    add_learners(&keyless, &tree, tree.company_a, 1).await;
    let none = deliver_due(&keyless, &Sender::new(true), t())
        .await
        .unwrap();
    assert_eq!(none, WebhookReport::default());
    assert!(receiver.received().is_empty());
    // With the key the waiting delivery goes out.
    assert_eq!(
        deliver_due(&ops, &Sender::new(true), t())
            .await
            .unwrap()
            .delivered,
        1
    );
    let ids: HashMap<String, usize> =
        receiver
            .verified(&endpoint.secret)
            .iter()
            .fold(HashMap::new(), |mut m, r| {
                *m.entry(r.id.clone()).or_default() += 1;
                m
            });
    assert_eq!(ids.len(), 1);
}
