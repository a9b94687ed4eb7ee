//! Webhook events from the operations: every event type arrives, signed, with its payload, at
//! the endpoints that chose it; a partner's endpoint hears its own companies and its
//! sub-partners', never a sibling's; the operator's hears everything; an event written by a
//! change that rolls back is never sent.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use seatledger::clock::ManualClock;
use seatledger::db::scope::AuthorisedCompany;
use seatledger::domain::company::batch_expires_at;
use seatledger::domain::webhooks::EventType;
use seatledger::domain::{OrderId, OrderKind, RejectReason, SeatCount};
use seatledger::jobs::webhooks::deliver_due;
use seatledger::ops::expiry::run_pass;
use seatledger::ops::orders::{self, LicenceRequest};
use seatledger::ops::seats::{self, Learners};
use seatledger::ops::users::{self, Removal};
use seatledger::ops::{self, Caller, Error, Ops};
use seatledger::webhooks::client::Sender;
use serde_json::Value;

use crate::hooks::{Tree, add_learners, hook_ops, register, t};
use crate::on_both_databases;
use crate::receiver::{Received, Receiver};
use crate::support::{TestDb, World};

on_both_databases!(
    every_event_type_arrives_signed_with_its_payload,
    a_partners_endpoint_hears_its_subtree_and_never_a_siblings_events,
    an_endpoint_receives_only_the_types_it_chose,
    a_change_that_is_refused_sends_nothing,
);

async fn request(ops: &Ops, caller: &Caller, company: &AuthorisedCompany, key: &str) -> OrderId {
    let request = LicenceRequest {
        kind: OrderKind::Premium,
        quantity: SeatCount::new(3).unwrap(),
        request_key: key,
    };
    orders::request(ops, caller, company, &request)
        .await
        .unwrap()
        .order
}

fn of_type(received: &[Received], event: &str) -> Vec<Value> {
    received
        .iter()
        .filter(|r| r.event_type() == event)
        .map(Received::json)
        .collect()
}

async fn every_event_type_arrives_signed_with_its_payload(db: TestDb) {
    let tree = Tree::build(&db).await;
    let world = World { db: &db };
    let clock = ManualClock::at(t());
    let ops = hook_ops(&db, &clock);
    let receiver = Receiver::start().await;
    let all: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
    let endpoint = register(&ops, &tree.admin(tree.a), &receiver.url(), &all).await;
    let sender = Sender::new(true);
    let admin = tree.admin(tree.a);
    let alpha = ops::authorise(&ops, &admin, tree.company_a).await.unwrap();
    // A second company of A stays on its trial, for the trial events.
    let trial = world.company(tree.a, "Trial Co", t()).await;

    let learners = add_learners(&ops, &tree, tree.company_a, 3).await;
    let first = request(&ops, &admin, &alpha, "first").await;
    let batch = orders::assign(&ops, &admin, first).await.unwrap();
    let alpha = ops::authorise(&ops, &admin, tree.company_a).await.unwrap();
    seats::allocate(&ops, &admin, &alpha, Learners::These(learners.clone()))
        .await
        .unwrap();
    seats::release(&ops, &admin, &alpha, learners[0])
        .await
        .unwrap();
    users::remove(&ops, &admin, &alpha, learners[1], Removal::Deactivate)
        .await
        .unwrap();
    let second = request(&ops, &admin, &alpha, "second").await;
    let reason = RejectReason::parse("Budget not approved").unwrap();
    orders::reject(&ops, &admin, second, &reason).await.unwrap();
    let third = request(&ops, &admin, &alpha, "third").await;
    orders::cancel(&ops, &admin, third).await.unwrap();
    deliver_due(&ops, &sender, t()).await.unwrap();

    let trial_ends = t() + SignedDuration::from_hours(24 * 30);
    let expires = batch_expires_at(t());
    for at in [
        trial_ends - SignedDuration::from_hours(72),
        trial_ends,
        expires - SignedDuration::from_hours(72),
        expires,
    ] {
        run_pass(&ops, at).await.unwrap();
        deliver_due(&ops, &sender, at).await.unwrap();
    }

    let received = receiver.verified(&endpoint.secret);
    let types: BTreeSet<String> = received.iter().map(Received::event_type).collect();
    let every: BTreeSet<String> = all.iter().map(|s| s.to_string()).collect();
    assert_eq!(types, every, "every event type arrived");
    let ids: BTreeSet<&str> = received.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), received.len(), "one webhook-id per event");
    for r in &received {
        let body = r.json();
        assert!(
            body["timestamp"]
                .as_str()
                .unwrap()
                .parse::<Timestamp>()
                .is_ok()
        );
        assert!(body["data"].is_object());
    }

    let one = |event: &str| {
        let found = of_type(&received, event);
        assert_eq!(found.len(), 1, "{event}: {found:?}");
        found[0]["data"].clone()
    };
    let created = of_type(&received, "user.created");
    assert_eq!(created.len(), 3);
    assert_eq!(created[0]["data"]["company"]["id"], tree.company_a.0);
    assert_eq!(created[0]["data"]["company"]["name"], "Alpha Ltd");
    assert_eq!(created[0]["data"]["company"]["partner_id"], tree.a.0);
    assert_eq!(created[0]["data"]["user"]["learner"], true);

    let requested = of_type(&received, "order.requested");
    assert_eq!(requested.len(), 3);
    let requested = &requested
        .iter()
        .find(|r| r["data"]["order"]["id"] == first.0)
        .unwrap()["data"];
    assert_eq!(requested["order"]["state"], "requested");
    assert_eq!(requested["order"]["quantity"], 3);
    assert_eq!(requested["order"]["requested_by"], "admin@a.example");
    let assigned = one("order.assigned");
    assert_eq!(assigned["order"]["state"], "assigned");
    assert_eq!(assigned["batch"]["id"], batch.0);
    assert_eq!(assigned["batch"]["expires_at"], expires.to_string());
    assert_eq!(
        one("order.rejected")["order"]["reject_reason"],
        "Budget not approved"
    );
    assert_eq!(one("order.cancelled")["order"]["id"], third.0);

    let allocated = one("seats.allocated");
    let seated: Vec<i64> = allocated["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["user_id"].as_i64().unwrap())
        .collect();
    assert_eq!(seated, learners.iter().map(|u| u.0).collect::<Vec<_>>());
    assert_eq!(allocated["seats"][0]["batch_id"], batch.0);
    let released = of_type(&received, "seats.released");
    let reasons: BTreeSet<(String, i64)> = released
        .iter()
        .map(|r| {
            let data = &r["data"];
            let user = data["seats"][0]["user_id"].as_i64().unwrap();
            (data["reason"].as_str().unwrap().to_owned(), user)
        })
        .collect();
    let expected = [
        ("released".to_owned(), learners[0].0),
        ("user_deactivated".to_owned(), learners[1].0),
    ];
    assert_eq!(reasons, BTreeSet::from(expected));
    let deactivated = one("user.deactivated");
    assert_eq!(deactivated["user"]["id"], learners[1].0);
    assert!(deactivated["user"]["deactivated_at"].is_string());

    assert_eq!(one("company.trial_ending")["company"]["id"], trial.0);
    assert_eq!(
        one("company.trial_expired")["company"]["trial_ends_at"],
        trial_ends.to_string()
    );
    assert_eq!(one("batch.expiring")["batch"]["id"], batch.0);
    let expired = one("batch.expired");
    assert_eq!(expired["learners_affected"], 1, "the learner still seated");
}

async fn a_partners_endpoint_hears_its_subtree_and_never_a_siblings_events(db: TestDb) {
    let tree = Tree::build(&db).await;
    let clock = ManualClock::at(t());
    let ops = hook_ops(&db, &clock);
    let types = ["user.created"];
    let mut receivers = Vec::new();
    for owner in [
        tree.admin(tree.a),
        tree.admin(tree.b),
        tree.admin(tree.d),
        tree.operator(),
    ] {
        let receiver = Receiver::start().await;
        let endpoint = register(&ops, &owner, &receiver.url(), &types).await;
        receivers.push((receiver, endpoint.secret));
    }
    add_learners(&ops, &tree, tree.company_a, 2).await;
    add_learners(&ops, &tree, tree.company_b, 3).await;
    deliver_due(&ops, &Sender::new(true), t()).await.unwrap();

    let companies = |i: usize| -> Vec<i64> {
        let (receiver, secret) = &receivers[i];
        receiver
            .verified(secret)
            .iter()
            .map(|r| r.json()["data"]["company"]["id"].as_i64().unwrap())
            .collect()
    };
    let (a, b) = (tree.company_a.0, tree.company_b.0);
    assert_eq!(companies(0), [a, a], "A hears only its company");
    assert_eq!(companies(1), [b, b, b], "B hears only its company");
    assert_eq!(companies(2).len(), 5, "the distributor hears both MSPs");
    assert_eq!(companies(3).len(), 5, "the operator hears everything");
    let id_sets: Vec<BTreeSet<String>> = receivers
        .iter()
        .map(|(r, _)| r.received().into_iter().map(|x| x.id).collect())
        .collect();
    assert!(
        id_sets[2].is_disjoint(&id_sets[3]),
        "each endpoint has its own webhook-id for an event"
    );
}

async fn an_endpoint_receives_only_the_types_it_chose(db: TestDb) {
    let tree = Tree::build(&db).await;
    let clock = ManualClock::at(t());
    let ops = hook_ops(&db, &clock);
    let orders_only = Receiver::start().await;
    let endpoint = register(
        &ops,
        &tree.admin(tree.a),
        &orders_only.url(),
        &["order.requested"],
    )
    .await;
    let admin = tree.admin(tree.a);
    let alpha = ops::authorise(&ops, &admin, tree.company_a).await.unwrap();
    add_learners(&ops, &tree, tree.company_a, 1).await;
    request(&ops, &admin, &alpha, "only").await;
    deliver_due(&ops, &Sender::new(true), t()).await.unwrap();
    let received = orders_only.verified(&endpoint.secret);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].event_type(), "order.requested");
}

async fn a_change_that_is_refused_sends_nothing(db: TestDb) {
    let tree = Tree::build(&db).await;
    let clock = ManualClock::at(t());
    let ops = hook_ops(&db, &clock);
    let receiver = Receiver::start().await;
    register(
        &ops,
        &tree.admin(tree.a),
        &receiver.url(),
        &["seats.allocated"],
    )
    .await;
    let admin = tree.admin(tree.a);
    let learners = add_learners(&ops, &tree, tree.company_a, 3).await;
    World { db: &db }.batch(tree.company_a, 2, t()).await;
    let alpha = ops::authorise(&ops, &admin, tree.company_a).await.unwrap();
    // Three learners, two seats: all or nothing, and nothing it is.
    let refused = seats::allocate(&ops, &admin, &alpha, Learners::These(learners)).await;
    assert!(matches!(refused, Err(Error::NoFreeSeats(_))));
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_events")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(events, 0);
    deliver_due(&ops, &Sender::new(true), t()).await.unwrap();
    assert!(receiver.received().is_empty());
}
