//! Test databases and a small world to test against.

use jiff::Timestamp;
use seatledger::db::companies::{self, NewCompany};
use seatledger::db::users::{self, Membership, NewUser};
use seatledger::db::{Actor, Db, migrations, partners, seats};
use seatledger::domain::{
    BatchId, CompanyId, Email, OrderKind, PartnerId, SeatCount, TrialDays, UserId,
};

/// Where PostgreSQL tests create their databases.
fn postgres_admin_url() -> String {
    std::env::var("SEATLEDGER_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1" || v == "true")
}

/// A fresh database, dropped when the test ends.
pub struct TestDb {
    pub db: Db,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres_name: Option<String>,
}

impl std::ops::Deref for TestDb {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.db
    }
}

/// A fresh SQLite database in a temporary directory.
pub async fn sqlite() -> TestDb {
    let test = empty_sqlite().await;
    migrations::run(&test.db)
        .await
        .expect("sqlite test database");
    test
}

/// A fresh SQLite database without a schema.
pub async fn empty_sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let db = Db::connect(&url).await.expect("sqlite test database");
    TestDb {
        db,
        url,
        _dir: Some(dir),
        postgres_name: None,
    }
}

/// A fresh PostgreSQL database, or `None` (with a note) when PostgreSQL is not available and
/// not required.
pub async fn postgres() -> Option<TestDb> {
    let test = empty_postgres().await?;
    migrations::run(&test.db)
        .await
        .expect("postgres test database");
    Some(test)
}

/// A fresh PostgreSQL database without a schema, or `None` as for `postgres`.
pub async fn empty_postgres() -> Option<TestDb> {
    let admin_url = postgres_admin_url();
    let admin =
        tokio::time::timeout(std::time::Duration::from_secs(5), Db::connect(&admin_url)).await;
    let admin = match admin {
        Ok(Ok(admin)) => admin,
        failure => {
            assert!(
                !required("SEATLEDGER_REQUIRE_POSTGRES"),
                "PostgreSQL is required but unreachable at {admin_url}: {failure:?}"
            );
            eprintln!("skipped: PostgreSQL not reachable at {admin_url}");
            return None;
        }
    };
    let name = format!(
        "seatledger_test_{}",
        &seatledger::db::sessions::new_token()[..16]
    );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(admin.pool())
        .await
        .expect("create test database");
    admin.close().await;
    let (base, _) = admin_url.rsplit_once('/').expect("database URL has a path");
    let url = format!("{base}/{name}");
    let db = Db::connect(&url).await.expect("postgres test database");
    Some(TestDb {
        db,
        url,
        _dir: None,
        postgres_name: Some(name),
    })
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot be blocked on; use a thread of its own.
        // The test's pool is left alone (its connections belong to the test's runtime); FORCE
        // ends them from the server side.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                if let Ok(admin) = Db::connect(&postgres_admin_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(admin.pool())
                        .await;
                    admin.close().await;
                }
            });
        })
        .join()
        .ok();
    }
}

/// Runs an async test body once on SQLite and once on PostgreSQL, as `NAME::sqlite` and
/// `NAME::postgres`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name($crate::support::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(db) = $crate::support::postgres().await {
                    super::$name(db).await;
                }
            }
        }
    )*};
}

/// As `on_both_databases!`, for bodies that build their own schema: each gets a database with
/// none.
#[macro_export]
macro_rules! on_both_empty_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name($crate::support::empty_sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(db) = $crate::support::empty_postgres().await {
                    super::$name(db).await;
                }
            }
        }
    )*};
}

pub fn at(s: &str) -> Timestamp {
    s.parse().expect("test instant")
}

/// The instant most tests start at.
pub fn t0() -> Timestamp {
    at("2026-03-01T09:00:00Z")
}

/// Builds partners, companies, users and batches directly through the storage layer.
pub struct World<'a> {
    pub db: &'a Db,
}

impl World<'_> {
    pub async fn partner(&self, parent: Option<PartnerId>, name: &str) -> PartnerId {
        let mut tx = self.db.begin_write().await.unwrap();
        let id = partners::create(&mut tx, parent, name, TrialDays::DEFAULT, t0())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        id
    }

    pub async fn company(&self, partner: PartnerId, name: &str, created: Timestamp) -> CompanyId {
        let mut tx = self.db.begin_write().await.unwrap();
        let id = companies::create(
            &mut tx,
            &NewCompany {
                partner,
                name,
                country: "GB",
                time_zone: "Europe/London",
                account_manager: None,
                trial_days: TrialDays::DEFAULT,
            },
            created,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        id
    }

    pub async fn user(
        &self,
        email: &str,
        membership: Membership,
        password_hash: Option<&str>,
        created: Timestamp,
    ) -> UserId {
        let mut tx = self.db.begin_write().await.unwrap();
        let id = users::create(
            &mut tx,
            &NewUser {
                email: &Email::parse(email).unwrap(),
                first_name: "Test",
                last_name: email.split('@').next().unwrap(),
                department: None,
                password_hash,
                membership,
            },
            created,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        id
    }

    pub async fn learners(
        &self,
        company: CompanyId,
        prefix: &str,
        n: usize,
        created: Timestamp,
    ) -> Vec<UserId> {
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            ids.push(
                self.user(
                    &format!("{prefix}{i}@{}.example", company.0),
                    Membership::Company {
                        company,
                        manager: false,
                        learner: true,
                    },
                    None,
                    created,
                )
                .await,
            );
        }
        ids
    }

    pub async fn batch(&self, company: CompanyId, quantity: i64, at: Timestamp) -> BatchId {
        let mut tx = self.db.begin_write().await.unwrap();
        let id = seats::assign_batch(
            &mut tx,
            company,
            None,
            OrderKind::Premium,
            SeatCount::new(quantity).unwrap(),
            Actor::SYSTEM,
            at,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        id
    }
}
