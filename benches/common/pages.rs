//! What the page benchmarks share: a partner admin's session and the median time of a page.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use jiff::Timestamp;
use seatledger::app::App;
use seatledger::db::users::{self, NewUser};
use seatledger::db::{Db, sessions};
use seatledger::domain::{Email, PartnerId, PersonName, Role};
use seatledger::web::SESSION_COOKIE;
use tower::ServiceExt;

/// A session of a new admin of `partner`.
pub async fn admin_session(db: &Db, partner: PartnerId, now: Timestamp) -> String {
    let mut tx = db.begin_write().await.unwrap();
    let email = Email::parse(&format!("bench-admin-{partner}@bench.example")).unwrap();
    let user = users::create(
        &mut tx,
        &NewUser {
            email: &email,
            first_name: &PersonName::parse("Bench").unwrap(),
            last_name: &PersonName::parse("Admin").unwrap(),
            department: None,
            password_hash: None,
            role: Role::Partner {
                partner,
                admin: true,
            },
        },
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    sessions::create(db, user, now).await.unwrap()
}

/// The median of `runs` loads of `path` under the session `token`, body read in full.
pub async fn median(app: &App, token: &str, path: &str, runs: usize) -> Duration {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let request = Request::get(path)
            .header(header::COOKIE, format!("{SESSION_COOKIE}={token}"))
            .body(Body::empty())
            .unwrap();
        let started = Instant::now();
        let response = app.router().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        times.push(started.elapsed());
    }
    middle(times)
}

/// The median of `times`.
pub fn middle(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}
