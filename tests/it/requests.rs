//! Licence requests: one waiting request per company (change its quantity, cancel it), Upgrade
//! to Premium after the trial ended, a partner's own licences asked of the partner above (a
//! distributor's of the operator), and a Managed company whose managers only look.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use seatledger::db::orders::{self, OrderFilter, OrdersTab, Seller};
use seatledger::db::{Actor, Scope, companies, seed};
use seatledger::domain::order::{Buyer, Decider, decides};
use seatledger::domain::{CompanyId, OrderId, OrderKind, PartnerId, SeatCount};
use seatledger::ops::orders::{self as order_ops, LicenceRequest};
use seatledger::ops::{self, Conflict, Error};

use crate::on_both_databases;
use crate::support::{TestDb, World, caller, ops_at, t0};
use crate::web::{Client, demo_app, request_key, row_of};

async fn scalar(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap()
}

async fn text(db: &TestDb, sql: &str) -> String {
    sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap()
}

on_both_databases!(
    a_company_has_at_most_one_waiting_request_however_many_ask_at_once,
    who_sells_to_whom_in_sql_agrees_with_the_domain,
);

async fn a_company_has_at_most_one_waiting_request_however_many_ask_at_once(db: TestDb) {
    let world = World { db: &db };
    let partner = world.partner(None, "Queue IT").await;
    let company = world.company(partner, "Eager Co", t0()).await;
    let ops = ops_at(&db, t0());
    let who = caller(&Scope::Company(company), Actor::SYSTEM);
    let proof = ops::authorise(&ops, &who, company).await.unwrap();
    let mut tasks = Vec::new();
    for n in 0..8 {
        let (ops, proof) = (ops.clone(), proof.clone());
        tasks.push(tokio::spawn(async move {
            let key = format!("key-{n}");
            let request = LicenceRequest {
                kind: OrderKind::Premium,
                quantity: SeatCount::new(5 + n).unwrap(),
                request_key: &key,
            };
            order_ops::request(&ops, &who, &proof, &request).await
        }));
    }
    let (mut created, mut waiting) = (Vec::new(), Vec::new());
    for task in tasks {
        match task.await.unwrap() {
            Ok(requested) => created.push(requested.order),
            Err(Error::Conflict(Conflict::RequestWaiting(order))) => waiting.push(order),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(waiting, vec![created[0]; 7]);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM orders").await, 1);

    // The same form sent again is a repeat, not a refusal.
    let key = text(&db, "SELECT request_key FROM orders").await;
    let again = LicenceRequest {
        kind: OrderKind::Premium,
        quantity: SeatCount::new(5).unwrap(),
        request_key: &key,
    };
    let repeat = order_ops::request(&ops, &who, &proof, &again)
        .await
        .unwrap();
    assert_eq!((repeat.order, repeat.created), (created[0], false));

    // Once it is cancelled, the company may ask again.
    order_ops::cancel(&ops, &who, created[0]).await.unwrap();
    let fresh = LicenceRequest {
        request_key: "key-after",
        ..again
    };
    assert!(
        order_ops::request(&ops, &who, &proof, &fresh)
            .await
            .unwrap()
            .created
    );
}

/// Requests licences for `company` as one of its managers; returns the order.
async fn request_for(db: &TestDb, company: CompanyId, key: &str) -> OrderId {
    let ops = ops_at(db, t0());
    let who = caller(&Scope::Company(company), Actor::SYSTEM);
    let proof = ops::authorise(&ops, &who, company).await.unwrap();
    let request = LicenceRequest {
        kind: OrderKind::Premium,
        quantity: SeatCount::new(3).unwrap(),
        request_key: key,
    };
    order_ops::request(&ops, &who, &proof, &request)
        .await
        .unwrap()
        .order
}

async fn who_sells_to_whom_in_sql_agrees_with_the_domain(db: TestDb) {
    let world = World { db: &db };
    let distributor = world.partner(None, "Top Distribution").await;
    let msp = world.partner(Some(distributor), "Middle MSP").await;
    let sub = world.partner(Some(msp), "Bottom Sub").await;
    let tree = [
        (distributor, None),
        (msp, Some(distributor)),
        (sub, Some(msp)),
    ];
    // For each order: its buyer, and the partner it belongs to.
    let mut orders_made = Vec::new();
    for (n, &(partner, parent)) in tree.iter().enumerate() {
        let customer = world.company(partner, &format!("Customer {n}"), t0()).await;
        let order = request_for(&db, customer, &format!("customer-{n}")).await;
        orders_made.push((order, partner, Buyer::Customer));
        let internal = companies::internal(&db, partner, t0()).await.unwrap().id;
        let order = request_for(&db, internal, &format!("own-{n}")).await;
        let buyer = Buyer::Partner {
            distributor: parent.is_none(),
        };
        orders_made.push((order, partner, buyer));
    }
    // How far above `partner` the seller `above` sits, if it does.
    let depth = |above: PartnerId, partner: PartnerId| -> Option<u32> {
        let mut at = Some(partner);
        let mut depth = 0;
        while let Some(p) = at {
            if p == above {
                return Some(depth);
            }
            at = tree
                .iter()
                .find(|(t, _)| *t == p)
                .and_then(|(_, parent)| *parent);
            depth += 1;
        }
        None
    };
    let mut sellers: Vec<(Seller, Option<Decider>)> = vec![];
    for &(seller, _) in &tree {
        sellers.push((Seller::Partner(seller), None));
    }
    sellers.push((Seller::Operator, Some(Decider::Operator)));
    for (seller, operator) in sellers {
        let listed: BTreeSet<OrderId> = orders::for_seller(
            &db,
            seller,
            OrdersTab::Requested,
            &OrderFilter::default(),
            None,
            100,
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|o| o.id)
        .collect();
        let expected: BTreeSet<OrderId> = orders_made
            .iter()
            .filter(|(_, partner, buyer)| {
                let decider = operator.or(match seller {
                    Seller::Partner(p) => {
                        depth(p, *partner).map(|depth| Decider::Partner { depth })
                    }
                    Seller::Operator => None,
                });
                decider.is_some_and(|d| decides(d, *buyer))
            })
            .map(|(order, _, _)| *order)
            .collect();
        assert_eq!(listed, expected, "{seller:?}");
        for (order, _, _) in &orders_made {
            let sold = orders::sold_by(&db, seller, *order).await.is_ok();
            assert_eq!(
                sold,
                expected.contains(order),
                "{seller:?} and order {order}"
            );
        }
    }
}

async fn manager(app: &seatledger::app::App, email: &str) -> Client {
    let mut client = Client::new(app);
    client.sign_in(email, seed::DEMO_PASSWORD).await;
    client
}

/// Request License → `quantity` → Save, from wherever the form is; returns the reply.
async fn ask(client: &mut Client, quantity: &str) -> crate::web::Reply {
    let form = client.get("/company/orders/new").await;
    let key = request_key(&form.body);
    client
        .post(
            "/company/orders",
            &[
                ("request_key", &key),
                ("quantity", quantity),
                ("kind", "premium"),
            ],
        )
        .await
}

#[tokio::test]
async fn asking_again_shows_the_waiting_request_to_change_or_cancel_and_the_partner_is_told() {
    let (db, app, _) = demo_app().await;
    let mut cobalt = manager(&app, "manager@cobalt.example").await;
    let saved = ask(&mut cobalt, "25").await;
    let order = scalar(&db, "SELECT MAX(id) FROM orders").await;
    assert_eq!(saved.location, Some(format!("/landing?requested={order}")));

    // Asking again shows the waiting request instead of a new form.
    let again = cobalt.get("/company/orders/new").await;
    assert!(again.body.contains("<h1>A request is waiting</h1>"));
    assert!(
        again
            .body
            .contains(&format!("Order {order}: 25 Premium licences"))
    );
    assert!(!again.body.contains(r#"name="request_key""#));
    // A stale form sent anyway makes no second order.
    let stale = cobalt
        .post(
            "/company/orders",
            &[
                ("request_key", &"f".repeat(64)),
                ("quantity", "3"),
                ("kind", "premium"),
            ],
        )
        .await;
    assert_eq!(stale.location.as_deref(), Some("/company/orders/new"));
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM orders").await, 1);

    let path = format!("/company/orders/{order}/quantity");
    let bad = cobalt.post(&path, &[("quantity", "0")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body
            .contains("Number of licences: must be between 1 and 100000, not 0.")
    );
    let changed = cobalt.post(&path, &[("quantity", "30")]).await;
    assert_eq!(changed.location.as_deref(), Some("/landing"));
    assert_eq!(
        scalar(
            &db,
            &format!("SELECT quantity FROM orders WHERE id = {order}")
        )
        .await,
        30
    );
    let landing = cobalt.get("/landing").await.body;
    assert!(landing.contains(&format!(
        "Order {order} changed: your account manager has been told."
    )));
    assert_eq!(
        text(
            &db,
            "SELECT recipient || ' ' || subject FROM outbox WHERE kind = 'order_changed'"
        )
        .await,
        "am@bluefin.example Cobalt Expired Trial: the request is now for 30 Premium licences"
    );

    let cancelled = cobalt
        .post(&format!("/company/orders/{order}/cancel"), &[])
        .await;
    assert_eq!(cancelled.location.as_deref(), Some("/landing"));
    assert_eq!(
        text(&db, &format!("SELECT state FROM orders WHERE id = {order}")).await,
        "cancelled"
    );
    assert_eq!(
        text(
            &db,
            "SELECT recipient FROM outbox WHERE kind = 'order_cancelled'"
        )
        .await,
        "am@bluefin.example"
    );
    let gone = cobalt.post(&path, &[("quantity", "31")]).await;
    assert_eq!(gone.status, StatusCode::CONFLICT);

    // A new request may go; the partner cancels it from its Requested Orders.
    ask(&mut cobalt, "7").await;
    let second = scalar(&db, "SELECT MAX(id) FROM orders").await;
    let mut partner = manager(&app, "am@bluefin.example").await;
    let listed = partner.get("/partner/licences?tab=requested").await.body;
    assert!(listed.contains(&format!(r#"action="/partner/orders/{second}/cancel""#)));
    let by_partner = partner
        .post(
            &format!("/partner/orders/{second}/cancel"),
            &[("tab", "requested")],
        )
        .await;
    assert_eq!(
        by_partner.location.as_deref(),
        Some("/partner/licences?tab=requested")
    );
    assert_eq!(
        text(
            &db,
            &format!("SELECT state FROM orders WHERE id = {second}")
        )
        .await,
        "cancelled"
    );
    let activity = partner.get("/partner/activity").await.body;
    assert!(activity.contains(&format!("Changed order {order} from 25 to 30 licences")));
    assert!(activity.contains(&format!("Cancelled order {second}")));
}

#[tokio::test]
async fn upgrade_to_premium_works_after_the_trial_expired_for_the_company_and_in_manage_mode() {
    let (db, app, _) = demo_app().await;
    let mut cobalt = manager(&app, "manager@cobalt.example").await;
    let landing = cobalt.get("/landing").await.body;
    assert!(landing.contains(r#"<a href="/company/upgrade">Upgrade to Premium</a>"#));
    let upgrade = cobalt.get("/company/upgrade").await;
    assert_eq!(upgrade.status, StatusCode::OK);
    assert!(
        upgrade
            .body
            .contains("The free trial or licences of Cobalt Expired Trial ended on")
    );
    assert!(!upgrade.body.contains("the free trial ends at once"));
    let form = cobalt.get("/company/orders/new?upgrade=true").await;
    assert!(form.body.contains("<h1>Upgrade to Premium</h1>"));

    let cobalt_id = scalar(
        &db,
        "SELECT id FROM companies WHERE name = 'Cobalt Expired Trial'",
    )
    .await;
    let mut partner = manager(&app, "admin@bluefin.example").await;
    partner
        .post(&format!("/partner/companies/{cobalt_id}/manage"), &[])
        .await;
    let licences = partner.get("/company/licenses").await.body;
    assert!(licences.contains(r#"href="/company/upgrade">Upgrade to Premium</a>"#));
    assert_eq!(partner.get("/company/upgrade").await.status, StatusCode::OK);
    let saved = ask(&mut partner, "9").await;
    assert!(
        saved
            .location
            .unwrap()
            .starts_with("/company/licenses?requested=")
    );
    // A Premium company has nothing to upgrade.
    let echo = scalar(&db, "SELECT id FROM companies WHERE name = 'Echo Premium'").await;
    partner.post("/manage/exit", &[]).await;
    partner
        .post(&format!("/partner/companies/{echo}/manage"), &[])
        .await;
    assert!(
        !partner
            .get("/company/licenses")
            .await
            .body
            .contains("Upgrade to Premium")
    );
    assert_eq!(
        partner.get("/company/upgrade").await.location.as_deref(),
        Some("/company/licenses")
    );
}

#[tokio::test]
async fn a_managed_company_is_run_by_its_partner_and_its_managers_only_look() {
    let (db, app, _) = demo_app().await;
    let acme = scalar(&db, "SELECT id FROM companies WHERE name = 'Acme Trial Co'").await;
    let mut partner = manager(&app, "admin@bluefin.example").await;
    partner
        .post(&format!("/partner/companies/{acme}/manage"), &[])
        .await;
    let key = request_key(&partner.get("/company/orders/new").await.body);
    partner
        .post(
            "/company/orders",
            &[
                ("request_key", &key),
                ("quantity", "6"),
                ("kind", "managed"),
            ],
        )
        .await;
    partner.post("/manage/exit", &[]).await;
    let order = scalar(&db, "SELECT MAX(id) FROM orders").await;
    partner
        .post(&format!("/partner/orders/{order}/assign"), &[])
        .await;
    let list = partner.get("/partner?q=acme").await.body;
    assert!(
        row_of(&list, "Acme Trial Co").contains(r#"<span class="badge managed">Managed</span>"#)
    );

    let mut acme_manager = manager(&app, "manager@acme.example").await;
    for page in [
        "/company",
        "/company/users",
        "/company/licenses?tab=expired",
    ] {
        let body = acme_manager.get(page).await.body;
        assert!(
            body.contains(
                "<strong>Bluefin IT</strong> manages your programme (your account manager: \
                 Alex Morgan &#60;am@bluefin.example&#62;). This view is read-only"
            ),
            "{page}: {body}"
        );
        for button in [
            "Add User",
            "Import Users",
            "Request Licenses",
            "Allocate Licenses",
            "Deactivate",
        ] {
            assert!(
                !body.contains(&format!(">{button}<")),
                "{page} offers {button}"
            );
        }
    }
    let users = acme_manager.get("/company/users").await.body;
    assert!(
        users.contains("learner1@acme.example"),
        "the manager still sees the users"
    );
    let form = acme_manager.get("/company/orders/new").await;
    assert_eq!(form.status, StatusCode::FORBIDDEN);
    assert!(form.body.contains("Your partner manages this company"));
    let add = acme_manager
        .post(
            "/company/users",
            &[("email", "new@acme.example"), ("role", "learner")],
        )
        .await;
    assert_eq!(add.status, StatusCode::FORBIDDEN);

    // The partner still runs it in manage mode, with every button.
    partner
        .post(&format!("/partner/companies/{acme}/manage"), &[])
        .await;
    let run = partner.get("/company/users").await.body;
    assert!(run.contains(">Add User<") && !run.contains("manages your programme"));
}

#[tokio::test]
async fn partners_ask_the_partner_above_for_their_own_licences_and_distributors_the_operator() {
    let (db, app, _) = demo_app().await;
    // Bluefin IT: My Orders → Add Licenses → 5 → Save.
    let mut bluefin = manager(&app, "admin@bluefin.example").await;
    let mine = bluefin.get("/partner/licences?tab=mine").await.body;
    assert!(mine.contains(r#"<a class="button" href="/partner/orders/new">Add Licenses</a>"#));
    let form = bluefin.get("/partner/orders/new").await.body;
    assert!(form.contains("<h1>Add Licenses</h1>") && !form.contains(r#"id="kind""#));
    let key = request_key(&form);
    let saved = bluefin
        .post(
            "/partner/orders",
            &[("request_key", &key), ("quantity", "5")],
        )
        .await;
    let order = scalar(&db, "SELECT MAX(id) FROM orders").await;
    assert_eq!(
        saved.location.as_deref(),
        Some("/partner/licences?tab=mine")
    );
    let mine = bluefin.get("/partner/licences?tab=mine").await.body;
    assert!(mine.contains(r#"<td>Bluefin IT <span class="badge">Own licences</span></td>"#));
    // Not its own to assign: it is not in its Requested Orders, and Assign is not found.
    let requested = bluefin.get("/partner/licences?tab=requested").await.body;
    assert!(!requested.contains(&format!(r#"data-order="{order}""#)));
    let own_assign = bluefin
        .post(&format!("/partner/orders/{order}/assign"), &[])
        .await;
    assert_eq!(own_assign.status, StatusCode::NOT_FOUND);
    assert_eq!(
        text(
            &db,
            "SELECT recipient FROM outbox WHERE kind = 'order_requested'"
        )
        .await,
        "admin@northwind.example"
    );
    // Asking again shows the waiting request; its quantity changes.
    let again = bluefin.get("/partner/orders/new").await.body;
    assert!(again.contains(&format!("Order {order}: 5 Premium licences")));
    let changed = bluefin
        .post(
            &format!("/partner/orders/{order}/quantity"),
            &[("quantity", "6")],
        )
        .await;
    assert_eq!(
        changed.location.as_deref(),
        Some("/partner/licences?tab=mine")
    );

    // Northwind assigns it; the seats land on Bluefin IT's own company beside its NFR seats.
    let mut northwind = manager(&app, "admin@northwind.example").await;
    let listed = northwind.get("/partner/licences?tab=requested").await.body;
    assert!(listed.contains(&format!(r#"data-order="{order}""#)));
    let assigned = northwind
        .post(&format!("/partner/orders/{order}/assign"), &[])
        .await;
    assert_eq!(assigned.status, StatusCode::SEE_OTHER);
    let own = companies::internal(&db, PartnerId(2), t0()).await.unwrap();
    assert_eq!((own.bought.total, own.nfr.total), (6, 10));
    let page = bluefin.get("/partner").await.body;
    assert!(page.contains("Your own licences: 0 of 6 allocated."));
    assert_eq!(
        text(
            &db,
            "SELECT recipient FROM outbox WHERE kind = 'order_assigned'"
        )
        .await,
        "admin@bluefin.example"
    );

    // Northwind, a distributor, asks the operator.
    let key = request_key(&northwind.get("/partner/orders/new").await.body);
    northwind
        .post(
            "/partner/orders",
            &[("request_key", &key), ("quantity", "4")],
        )
        .await;
    let distributors = scalar(&db, "SELECT MAX(id) FROM orders").await;
    let alert: String = text(
        &db,
        "SELECT recipient || ' ' || body_text FROM outbox WHERE kind = 'order_requested' \
         ORDER BY id DESC LIMIT 1",
    )
    .await;
    assert!(alert.starts_with("operator@seatledger.example"), "{alert}");
    assert!(
        alert.contains(&format!("/operator/orders?order={distributors}")),
        "{alert}"
    );
    let mut operator = manager(&app, "operator@seatledger.example").await;
    let requested = operator.get("/operator/orders").await.body;
    let row = row_of(&requested, &distributors.to_string());
    assert!(
        row.contains("<td>Northwind Distribution</td>") && row.contains("<td>4</td>"),
        "{row}"
    );
    assert!(
        !requested.contains(&format!(r#"data-order="{order}""#)),
        "not Bluefin's"
    );
    let refused = operator
        .post(
            &format!("/operator/orders/{distributors}/reject"),
            &[("reason", "")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let assigned = operator
        .post(&format!("/operator/orders/{distributors}/assign"), &[])
        .await;
    assert_eq!(assigned.location.as_deref(), Some("/operator/orders"));
    let own = companies::internal(&db, PartnerId(1), t0()).await.unwrap();
    assert_eq!(own.bought.total, 4);
    // The operator sells nothing to customers.
    let acme_key = {
        let mut acme = manager(&app, "manager@acme.example").await;
        ask(&mut acme, "2").await;
        scalar(&db, "SELECT MAX(id) FROM orders").await
    };
    let not_theirs = operator
        .post(&format!("/operator/orders/{acme_key}/assign"), &[])
        .await;
    assert_eq!(not_theirs.status, StatusCode::NOT_FOUND);
}
