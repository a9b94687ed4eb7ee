//! API keys: created in the console by their owners (operator, partner admins, company managers)
//! and by the command line, shown once, stored only as a hash, stopped by revocation or expiry.

use std::sync::Arc;

use axum::http::StatusCode;
use seatledger::clock::ManualClock;
use seatledger::db::api_keys::KeyOwner;
use seatledger::db::seed;
use seatledger::domain::api_keys::Permissions;
use seatledger::domain::{KeyName, Role};
use seatledger::ops::api_keys::{self as key_ops, NewApiKey};
use seatledger::ops::{Error, Ops};

use crate::cli::{seatledger, stdout};
use crate::on_both_databases;
use crate::support::{TestDb, World, at, ops_at, t0};
use crate::web::{Client, demo_app};

/// The key a creation page shows, once.
pub(crate) fn shown_key(page: &str) -> String {
    let start = page.find(r#"<code id="api-key">"#).expect("no key shown") + 19;
    let end = page[start..].find("</code>").unwrap() + start;
    page[start..end].to_owned()
}

/// Signs in `email` and creates a key with `permissions` on the area's page at `base`.
pub(crate) async fn console_key(client: &mut Client, base: &str, permissions: &[&str]) -> String {
    client.get(base).await;
    let mut fields = vec![("name", "Integration test"), ("expires", "")];
    fields.extend(permissions.iter().map(|p| ("permissions", *p)));
    let created = client.post(base, &fields).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    shown_key(&created.body)
}

async fn everything_stored(db: &TestDb) -> String {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT prefix || ' ' || key_hash || ' ' || name || ' ' || permissions FROM api_keys",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    rows.join("\n")
}

#[tokio::test]
async fn each_owner_creates_a_key_seen_once_that_works_until_revoked() {
    let (db, app, _) = demo_app().await;
    let ops = &app.ops;
    for (email, base, expected) in [
        (
            "operator@seatledger.example",
            "/operator/api-keys",
            "operator",
        ),
        ("admin@bluefin.example", "/partner/api-keys", "partner"),
        ("manager@acme.example", "/company/api-keys", "company"),
    ] {
        let mut client = Client::new(&app);
        client.sign_in(email, seed::DEMO_PASSWORD).await;
        let key = console_key(&mut client, base, &["read", "write"]).await;
        assert!(key.starts_with("sl_"), "{key}");
        let stored = everything_stored(&db).await;
        assert!(
            !stored.contains(&key[16..]),
            "the secret is stored readable"
        );

        let list = client.get(base).await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(!list.body.contains(&key), "the key is shown twice");
        assert!(list.body.contains(&key[3..15]), "the prefix is not listed");
        assert!(list.body.contains("read, write"));

        let found = key_ops::authenticate(ops, &key).await.unwrap().unwrap();
        let role = match found.caller.role {
            Role::Operator => "operator",
            Role::Partner { admin: true, .. } => "partner",
            Role::Company { manager: true, .. } => "company",
            other => panic!("{other:?}"),
        };
        assert_eq!(role, expected);
        assert!(
            found
                .key
                .permissions
                .has(seatledger::domain::api_keys::Permission::Write)
        );

        let revoked = client
            .post(&format!("{base}/{}/revoke", found.key.id), &[])
            .await;
        assert_eq!(revoked.status, StatusCode::SEE_OTHER);
        let list = client.get(revoked.location.as_deref().unwrap()).await;
        assert!(list.body.contains("was revoked"), "{}", list.body);
        assert!(list.body.contains("Revoked on"));
        assert!(key_ops::authenticate(ops, &key).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn keys_are_refused_to_account_managers_learners_and_manage_mode() {
    let (db, app, _) = demo_app().await;
    let mut am = Client::new(&app);
    am.sign_in("am@bluefin.example", seed::DEMO_PASSWORD).await;
    let page = am.get("/partner/api-keys").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(
        page.body.contains("Only your partner&#39;s admins"),
        "{}",
        page.body
    );
    let create = am
        .post(
            "/partner/api-keys",
            &[("name", "x"), ("permissions", "read")],
        )
        .await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);

    // A partner admin managing a company sees no key section there.
    let mut admin = Client::new(&app);
    admin
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM companies WHERE name = 'Acme Trial Co'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let managed = admin
        .post(&format!("/partner/companies/{id}/manage"), &[])
        .await;
    assert_eq!(managed.status, StatusCode::SEE_OTHER, "{}", managed.body);
    let home = admin.get("/company").await;
    assert!(!home.body.contains("/company/api-keys"));
    let page = admin.get("/company/api-keys").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_bad_key_form_names_each_field_and_creates_nothing() {
    let (db, app, _) = demo_app().await;
    let mut admin = Client::new(&app);
    admin
        .sign_in("admin@bluefin.example", seed::DEMO_PASSWORD)
        .await;
    admin.get("/partner/api-keys").await;
    let refused = admin
        .post(
            "/partner/api-keys",
            &[
                ("name", ""),
                ("expires", "2020-01-01"),
                ("permissions", "admin"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("Name: this field is required."),
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains("Permissions: &#34;admin&#34; is not one of"),
        "{}",
        refused.body
    );
    let past = admin
        .post(
            "/partner/api-keys",
            &[
                ("name", "old"),
                ("expires", "2020-01-01"),
                ("permissions", "read"),
            ],
        )
        .await;
    assert_eq!(past.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        past.body.contains("Expires: must lie in the future."),
        "{}",
        past.body
    );
    assert_eq!(everything_stored(&db).await, "");
}

on_both_databases!(
    a_key_works_only_whole_and_only_until_it_expires,
    a_key_revoked_here_stops_at_once_and_elsewhere_within_the_recheck,
    the_command_line_prints_only_the_key_and_revokes_by_prefix,
    a_keys_creation_first_use_and_revocation_are_in_its_owners_activity,
    keys_created_at_once_stop_at_the_limit,
);

/// One key short of the limit, sixteen created at once: one is made, the rest refused, and the
/// owner holds exactly the limit (each creation counts under the owner's lock).
async fn keys_created_at_once_stop_at_the_limit(db: TestDb) {
    let partner = World { db: &db }.partner(None, "Keyed IT").await;
    let owner = KeyOwner::Partner(partner);
    let ops = ops_at(&db, t0());
    let new = NewApiKey {
        name: KeyName::parse("integration").unwrap(),
        permissions: Permissions::parse(["read"]).unwrap(),
        expires_at: None,
    };
    for _ in 1..key_ops::MAX_KEYS {
        key_ops::create_for(&ops, owner, &new, None).await.unwrap();
    }
    let racers: Vec<_> = (0..16)
        .map(|_| {
            let (ops, new) = (ops.clone(), new.clone());
            tokio::spawn(async move { key_ops::create_for(&ops, owner, &new, None).await })
        })
        .collect();
    let mut made = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(_) => made += 1,
            Err(Error::Conflict(seatledger::ops::Conflict::KeyLimit(_))) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(made, 1);
    let held: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM api_keys WHERE partner_id = $1 AND revoked_at IS NULL",
    )
    .bind(partner.0)
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(held, i64::from(key_ops::MAX_KEYS));
}

fn new_key(permissions: &str, expires: Option<&str>) -> NewApiKey {
    NewApiKey {
        name: KeyName::parse("PSA sync").unwrap(),
        permissions: Permissions::parse(permissions.split(',')).unwrap(),
        expires_at: expires.map(at),
    }
}

/// Each instance remembers the keys it read for `KEY_RECHECK`, so the API's requests do not read
/// the key every time: revocation here is at once, on another instance within the recheck, and
/// expiry is exact whatever was remembered.
async fn a_key_revoked_here_stops_at_once_and_elsewhere_within_the_recheck(db: TestDb) {
    let world = World { db: &db };
    let partner = world.partner(None, "Bluefin").await;
    let owner = KeyOwner::Partner(partner);
    let clock = Arc::new(ManualClock::at(t0()));
    let here = Ops::new(db.clone(), clock.clone(), "https://console.example");
    let elsewhere = ops_at(&db, t0());
    let works =
        async |ops: &Ops, key: &str| key_ops::authenticate(ops, key).await.unwrap().is_some();

    let first = key_ops::create_for(&here, owner, &new_key("read", None), None)
        .await
        .unwrap()
        .key;
    assert!(works(&here, &first).await);
    key_ops::revoke_by_prefix(&elsewhere, &first[3..15])
        .await
        .unwrap();
    assert!(
        !works(&elsewhere, &first).await,
        "the revoking instance stops it at once"
    );
    assert!(
        works(&here, &first).await,
        "another instance trusts its read until the recheck"
    );
    clock.advance(key_ops::KEY_RECHECK - jiff::SignedDuration::from_millis(1));
    assert!(works(&here, &first).await);
    clock.advance(jiff::SignedDuration::from_millis(1));
    assert!(!works(&here, &first).await);

    let second = key_ops::create_for(&here, owner, &new_key("read", None), None)
        .await
        .unwrap()
        .key;
    assert!(works(&here, &second).await);
    key_ops::revoke_by_prefix(&here, &second[3..15])
        .await
        .unwrap();
    assert!(!works(&here, &second).await);

    let expiring = key_ops::create_for(
        &here,
        owner,
        &new_key("read", Some("2026-04-01T00:00:00Z")),
        None,
    )
    .await
    .unwrap()
    .key;
    clock.set(at("2026-03-31T23:59:59.500Z"));
    assert!(works(&here, &expiring).await);
    clock.set(at("2026-04-01T00:00:00Z"));
    assert!(!works(&here, &expiring).await, "expiry is exact");
}

async fn a_key_works_only_whole_and_only_until_it_expires(db: TestDb) {
    let world = World { db: &db };
    let partner = world.partner(None, "Bluefin").await;
    let ops = ops_at(&db, t0());
    let created = key_ops::create_for(
        &ops,
        KeyOwner::Partner(partner),
        &new_key("read", Some("2026-04-01T00:00:00Z")),
        None,
    )
    .await
    .unwrap();
    let found = key_ops::authenticate(&ops, &created.key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.key.owner, KeyOwner::Partner(partner));
    let last_used = async || {
        seatledger::db::api_keys::list(&db, KeyOwner::Partner(partner), 10)
            .await
            .unwrap()[0]
            .last_used_at
    };
    assert_eq!(last_used().await, Some(t0()));
    // Kept to the minute: the hot path writes at most once a minute per key.
    let soon = t0() + jiff::SignedDuration::from_secs(30);
    key_ops::authenticate(&ops_at(&db, soon), &created.key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last_used().await, Some(t0()));
    let minute = t0() + jiff::SignedDuration::from_secs(61);
    key_ops::authenticate(&ops_at(&db, minute), &created.key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last_used().await, Some(minute));

    // Same prefix, another secret: not the key.
    let mut forged = created.key.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    assert!(
        key_ops::authenticate(&ops, &forged)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        key_ops::authenticate(&ops, "Bearer nonsense")
            .await
            .unwrap()
            .is_none()
    );

    let later = ops_at(&db, at("2026-04-01T00:00:00Z"));
    assert!(
        key_ops::authenticate(&later, &created.key)
            .await
            .unwrap()
            .is_none()
    );

    let missing = key_ops::create_for(
        &ops,
        KeyOwner::Partner(seatledger::domain::PartnerId(partner.0 + 100)),
        &new_key("read", None),
        None,
    )
    .await;
    assert!(matches!(missing, Err(Error::NotFound)), "{missing:?}");
    let past = key_ops::create_for(
        &later,
        KeyOwner::Operator,
        &new_key("read", Some("2026-03-15T00:00:00Z")),
        None,
    )
    .await;
    assert!(matches!(past, Err(Error::Invalid(_))), "{past:?}");
}

async fn the_command_line_prints_only_the_key_and_revokes_by_prefix(db: TestDb) {
    let world = World { db: &db };
    let partner = world.partner(None, "Bluefin").await;
    let partner_arg = partner.0.to_string();
    let created = seatledger(
        &db.url,
        &[
            "api-key",
            "create",
            "--name",
            "bootstrap",
            "--permissions",
            "access:check,read",
            "--partner",
            &partner_arg,
            "--expires",
            "2999-01-01",
        ],
    );
    assert!(created.status.success(), "{created:?}");
    let out = stdout(&created);
    assert_eq!(out.lines().count(), 1, "{out}");
    let key = out.trim_end().to_owned();
    let clock = Arc::new(ManualClock::at(jiff::Timestamp::now()));
    let ops = Ops::new(db.clone(), clock.clone(), "https://console.example");
    let found = key_ops::authenticate(&ops, &key).await.unwrap().unwrap();
    assert_eq!(found.key.owner, KeyOwner::Partner(partner));
    assert_eq!(found.key.permissions.to_string(), "access:check,read");

    let unknown = seatledger(
        &db.url,
        &[
            "api-key",
            "create",
            "--name",
            "x",
            "--permissions",
            "read",
            "--company",
            "999999",
        ],
    );
    assert!(!unknown.status.success());
    let bad = seatledger(
        &db.url,
        &["api-key", "create", "--name", "x", "--permissions", "admin"],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--permissions"));

    let revoked = seatledger(&db.url, &["api-key", "revoke", &key[3..15]]);
    assert!(revoked.status.success(), "{revoked:?}");
    // Another process revoked it: this instance reads the key again within KEY_RECHECK.
    clock.advance(key_ops::KEY_RECHECK);
    assert!(key_ops::authenticate(&ops, &key).await.unwrap().is_none());
    let again = seatledger(&db.url, &["api-key", "revoke", "000000000000"]);
    assert!(!again.status.success());
}

/// (action, partner, company) of every API key entry in Activity, oldest first.
async fn key_activity(db: &TestDb) -> Vec<(String, Option<i64>, Option<i64>, String)> {
    sqlx::query_as(
        "SELECT action, partner_id, company_id, detail FROM activity \
         WHERE action LIKE 'api_key%' ORDER BY id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
}

async fn a_keys_creation_first_use_and_revocation_are_in_its_owners_activity(db: TestDb) {
    let world = World { db: &db };
    let partner = world.partner(None, "Bluefin").await;
    let company = world.company(partner, "Acme", t0()).await;
    let ops = ops_at(&db, t0());
    let mut prefixes = Vec::new();
    for owner in [
        KeyOwner::Company(company),
        KeyOwner::Partner(partner),
        KeyOwner::Operator,
    ] {
        let created = key_ops::create_for(&ops, owner, &new_key("read", None), None)
            .await
            .unwrap();
        for minutes in [0, 2] {
            let later = ops_at(&db, t0() + jiff::SignedDuration::from_mins(minutes));
            key_ops::authenticate(&later, &created.key)
                .await
                .unwrap()
                .unwrap();
        }
        let prefix = created.key[3..15].to_owned();
        for _ in 0..2 {
            key_ops::revoke_by_prefix(&ops, &prefix).await.unwrap();
        }
        prefixes.push(prefix);
    }
    let (p, c) = (Some(partner.0), Some(company.0));
    let entries = key_activity(&db).await;
    let expected = [
        ("api_key_created", p, c),
        ("api_key_first_used", p, c),
        ("api_key_revoked", p, c),
        ("api_key_created", p, None),
        ("api_key_first_used", p, None),
        ("api_key_revoked", p, None),
    ];
    assert_eq!(
        entries
            .iter()
            .map(|(a, p, c, _)| (a.as_str(), *p, *c))
            .collect::<Vec<_>>(),
        expected,
        "the instance key belongs to no partner; each event is recorded once"
    );
    assert!(entries[0].3.contains(&prefixes[0]), "{entries:?}");
    assert!(entries[4].3.contains(&prefixes[1]), "{entries:?}");
}
