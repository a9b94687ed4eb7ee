//! Test databases and a small world to test against.

use std::time::Duration;

use jiff::Timestamp;
use seatledger::clock::ManualClock;
use seatledger::db::companies::{self, NewCompany};
use seatledger::db::seats::{self, SeatCounts};
use seatledger::db::users::{self, NewUser};
use seatledger::db::{Actor, Db, Scope, migrations, partners};
use seatledger::domain::{
    BatchId, CompanyFacts, CompanyId, Country, Email, OrderKind, OrgName, PartnerId, PersonName,
    Role, SeatCount, TimeZoneName, TrialDays, UserId,
};
use seatledger::ops::seats::Learners;
use seatledger::ops::{self, Caller, OpResult, Ops};

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

/// How long the one probe waits for PostgreSQL to answer. The pool retries a refused connection
/// until its acquire timeout, so without this bound the probe would wait that long.
const POSTGRES_PROBE: Duration = Duration::from_secs(2);

/// Whether PostgreSQL answers at the admin URL (or why not), asked once per test binary so that
/// without a server every PostgreSQL test skips at once instead of each waiting for it.
async fn postgres_reachable() -> &'static Result<(), String> {
    static REACHABLE: tokio::sync::OnceCell<Result<(), String>> =
        tokio::sync::OnceCell::const_new();
    REACHABLE
        .get_or_init(|| async {
            match tokio::time::timeout(POSTGRES_PROBE, Db::connect(&postgres_admin_url())).await {
                Ok(Ok(admin)) => {
                    admin.close().await;
                    Ok(())
                }
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {POSTGRES_PROBE:?}")),
            }
        })
        .await
}

/// Whether the PostgreSQL tests run: `false` (with a note) when no server answers, a failure
/// when one is required.
pub async fn postgres_available() -> bool {
    let Err(why) = postgres_reachable().await else {
        return true;
    };
    let admin_url = postgres_admin_url();
    assert!(
        !required("SEATLEDGER_REQUIRE_POSTGRES"),
        "PostgreSQL is required but unreachable at {admin_url}: {why}"
    );
    eprintln!("skipped: PostgreSQL not reachable at {admin_url}: {why}");
    false
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
    if !postgres_available().await {
        return None;
    }
    let admin_url = postgres_admin_url();
    let admin = Db::connect(&admin_url).await.unwrap_or_else(|e| {
        panic!("PostgreSQL answered the probe but not now at {admin_url}: {e}")
    });
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
        let name = OrgName::parse(name).unwrap();
        let id = partners::create(&mut tx, parent, &name, TrialDays::DEFAULT, t0())
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
                name: &OrgName::parse(name).unwrap(),
                country: &Country::parse("GB").unwrap(),
                time_zone: &TimeZoneName::parse("Europe/London").unwrap(),
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
        role: Role,
        password_hash: Option<&str>,
        created: Timestamp,
    ) -> UserId {
        let mut tx = self.db.begin_write().await.unwrap();
        let id = users::create(
            &mut tx,
            &NewUser {
                email: &Email::parse(email).unwrap(),
                first_name: &PersonName::parse("Test").unwrap(),
                last_name: &PersonName::parse(email.split('@').next().unwrap()).unwrap(),
                department: None,
                password_hash,
                role,
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
                    Role::Company {
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

/// The operations on `db` with a manual clock standing at `now`.
pub fn ops_at(db: &Db, now: Timestamp) -> Ops {
    Ops::new(
        db.clone(),
        std::sync::Arc::new(ManualClock::at(now)),
        "https://console.example",
    )
}

/// A caller who may run every company `scope` sees: a manager of the company, or an admin of
/// the partner. Changes are recorded as done by `actor`.
pub fn caller(scope: &Scope, actor: Actor) -> Caller {
    let role = match *scope {
        Scope::Company(company) => Role::Company {
            company,
            manager: true,
            learner: false,
        },
        Scope::Partner(partner) => Role::Partner {
            partner,
            admin: true,
        },
        Scope::Operator => Role::Operator,
    };
    Caller { role, actor }
}

/// Allocate Licenses to `users` of `company` at `now`, as a caller of `scope`.
pub async fn allocate(
    db: &Db,
    scope: &Scope,
    company: CompanyId,
    users: &[UserId],
    actor: Actor,
    now: Timestamp,
) -> OpResult<usize> {
    let (ops, caller) = (ops_at(db, now), caller(scope, actor));
    let company = ops::authorise(&ops, &caller, company).await?;
    let learners = Learners::These(users.to_vec());
    ops::seats::allocate(&ops, &caller, &company, learners).await
}

/// Releases the seat of `user` of `company` at `now`, as a caller of `scope`.
pub async fn release(
    db: &Db,
    scope: &Scope,
    company: CompanyId,
    user: UserId,
    actor: Actor,
    now: Timestamp,
) -> OpResult<bool> {
    let (ops, caller) = (ops_at(db, now), caller(scope, actor));
    let company = ops::authorise(&ops, &caller, company).await?;
    ops::seats::release(&ops, &caller, &company, user).await
}

/// The seats of `company`'s valid batches at `now`, if `scope` sees it.
pub async fn seat_counts(
    db: &Db,
    scope: &Scope,
    company: CompanyId,
    now: Timestamp,
) -> OpResult<SeatCounts> {
    let company = seatledger::db::scope::authorise(db, scope, company).await?;
    Ok(seats::totals(db.pool(), company.id(), now).await?)
}

/// The lifecycle facts of `company`, if `scope` sees it.
pub async fn facts(db: &Db, scope: &Scope, company: CompanyId) -> OpResult<CompanyFacts> {
    let company = seatledger::db::scope::authorise(db, scope, company).await?;
    Ok(company.facts)
}
