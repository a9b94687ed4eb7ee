//! Demo data: a small world with a company in every state (`seatledger demo`, `serve --demo`),
//! and bulk data for benchmarks (`demo --companies N --learners M`).

use jiff::{SignedDuration, Timestamp, ToSpan};
use sqlx::{Any, Executor, Transaction};

use super::companies::{self, NewCompany};
use super::users::{self, NewUser};
use super::{Actor, Backend, Db, DbResult, partners, seats, secs};
use crate::domain::{
    CompanyId, Country, Email, OrderKind, OrgName, PartnerId, PersonName, Role, SeatCount,
    TimeZoneName, TrialDays, UserId,
};

/// A demo text as the value type it must be; the demo's own texts are always valid.
fn valid<T>(parsed: Result<T, crate::domain::InvalidValue>) -> T {
    parsed.expect("the demo's texts are valid values")
}

/// The password of every demo login.
pub const DEMO_PASSWORD: &str = "demo-password";

/// One demo login, printed for the person trying the product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoLogin {
    pub role: &'static str,
    pub company: String,
    pub state: String,
    pub email: String,
}

/// True when the database holds no partner yet.
pub async fn is_empty(db: &Db) -> DbResult<bool> {
    let partners: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM partners")
        .fetch_one(db.pool())
        .await?;
    Ok(partners == 0)
}

struct Seeder<'a> {
    tx: Transaction<'static, Any>,
    password_hash: &'a str,
    logins: Vec<DemoLogin>,
}

impl Seeder<'_> {
    async fn user(
        &mut self,
        email: &str,
        name: (&str, &str),
        role: Role,
        login: Option<(&'static str, &str, &str)>,
        at: Timestamp,
    ) -> DbResult<UserId> {
        let email = Email::parse(email).expect("demo emails are valid");
        let id = users::create(
            &mut self.tx,
            &NewUser {
                email: &email,
                first_name: &valid(PersonName::parse(name.0)),
                last_name: &valid(PersonName::parse(name.1)),
                department: None,
                password_hash: Some(self.password_hash),
                role,
            },
            at,
        )
        .await?;
        if let Some((role, company, state)) = login {
            self.logins.push(DemoLogin {
                role,
                company: company.to_owned(),
                state: state.to_owned(),
                email: email.to_string(),
            });
        }
        Ok(id)
    }
}

/// A demo company: its name, when it was created, and what happened to it since.
struct DemoCompany {
    name: &'static str,
    slug: &'static str,
    state: &'static str,
    created: Timestamp,
    /// When a batch of 4 seats was assigned (learners 1–3 get seats; 4 and 5 stay expired).
    licensed_at: Option<Timestamp>,
    /// How the learners of an unlicensed company stand.
    learners: &'static str,
}

/// Seeds the demo world at `now` and returns its logins (all with `DEMO_PASSWORD`).
pub async fn demo(db: &Db, password_hash: &str, now: Timestamp) -> DbResult<Vec<DemoLogin>> {
    let mut s = Seeder {
        tx: db.begin_write().await?,
        password_hash,
        logins: Vec::new(),
    };
    let days = |d: i64| SignedDuration::from_hours(24 * d);
    let year_ago = now
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .checked_sub(12.months())
        .map(|z| z.timestamp())
        .unwrap_or(now);
    let started = now - days(400);

    s.user(
        "operator@seatledger.example",
        ("Olive", "Operator"),
        Role::Operator,
        Some(("operator", "-", "-")),
        started,
    )
    .await?;
    let distributor = partners::create(
        &mut s.tx,
        None,
        &valid(OrgName::parse("Northwind Distribution")),
        TrialDays::DEFAULT,
        started,
    )
    .await?;
    let msp = partners::create(
        &mut s.tx,
        Some(distributor),
        &valid(OrgName::parse("Bluefin IT")),
        TrialDays::DEFAULT,
        started,
    )
    .await?;
    let sub = partners::create(
        &mut s.tx,
        Some(msp),
        &valid(OrgName::parse("Bluefin North")),
        TrialDays::DEFAULT,
        started,
    )
    .await?;
    for (partner, email, name, label) in [
        (
            distributor,
            "admin@northwind.example",
            ("Nora", "Northwind"),
            "Northwind Distribution",
        ),
        (
            msp,
            "admin@bluefin.example",
            ("Bea", "Bluefin"),
            "Bluefin IT",
        ),
        (
            sub,
            "admin@bluefin-north.example",
            ("Nils", "North"),
            "Bluefin North",
        ),
    ] {
        s.user(
            email,
            name,
            Role::Partner {
                partner,
                admin: true,
            },
            Some(("partner admin", label, "-")),
            started,
        )
        .await?;
    }
    let account_manager = s
        .user(
            "am@bluefin.example",
            ("Alex", "Morgan"),
            Role::Partner {
                partner: msp,
                admin: false,
            },
            Some(("account manager", "Bluefin IT", "-")),
            started,
        )
        .await?;

    let world = [
        DemoCompany {
            name: "Acme Trial Co",
            slug: "acme",
            state: "trial active",
            created: now - days(5),
            licensed_at: None,
            learners: "on trial",
        },
        DemoCompany {
            name: "Birch Ending Soon",
            slug: "birch",
            state: "trial ends within 72 h",
            created: now - days(28),
            licensed_at: None,
            learners: "on trial",
        },
        DemoCompany {
            name: "Cobalt Expired Trial",
            slug: "cobalt",
            state: "trial expired",
            created: now - days(33),
            licensed_at: None,
            learners: "licence expired",
        },
        DemoCompany {
            name: "Delta Renewal Due",
            slug: "delta",
            state: "premium, batch expires within 72 h",
            created: year_ago - days(20),
            licensed_at: Some(year_ago + days(2)),
            learners: "",
        },
        DemoCompany {
            name: "Echo Premium",
            slug: "echo",
            state: "premium",
            created: now - days(60),
            licensed_at: Some(now - days(30)),
            learners: "",
        },
    ];
    let mut to_license = Vec::new();
    for company in &world {
        let id = demo_company(&mut s, msp, Some(account_manager), company).await?;
        if let Some(at) = company.licensed_at {
            to_license.push((id, at));
        }
    }
    demo_company(
        &mut s,
        sub,
        None,
        &DemoCompany {
            name: "Fjord Fisheries",
            slug: "fjord",
            state: "trial active (sub-partner)",
            created: now - days(2),
            licensed_at: None,
            learners: "on trial",
        },
    )
    .await?;
    for &(company, at) in &to_license {
        seats::assign_batch(
            &mut s.tx,
            company,
            None,
            OrderKind::Premium,
            SeatCount::new(4).expect("4 is a valid seat count"),
            Actor::SYSTEM,
            at,
        )
        .await?;
    }
    let logins = s.logins;
    s.tx.commit().await?;

    for (company, at) in to_license {
        let learners: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM users WHERE company_id = $1 AND is_learner = 1 ORDER BY email LIMIT 3",
        )
        .bind(company.0)
        .fetch_all(db.pool())
        .await?;
        let learners: Vec<UserId> = learners.into_iter().map(UserId).collect();
        let at = at + SignedDuration::from_hours(1);
        let backend = db.backend();
        super::write_retrying!(db, |tx| {
            seats::allocate_in(&mut tx, backend, company, &learners, Actor::SYSTEM, at).await
        })
        .await?;
    }
    Ok(logins)
}

async fn demo_company(
    s: &mut Seeder<'_>,
    partner: PartnerId,
    account_manager: Option<UserId>,
    company: &DemoCompany,
) -> DbResult<CompanyId> {
    let id = companies::create(
        &mut s.tx,
        &NewCompany {
            partner,
            name: &valid(OrgName::parse(company.name)),
            country: &valid(Country::parse("GB")),
            time_zone: &valid(TimeZoneName::parse("Europe/London")),
            account_manager,
            trial_days: TrialDays::DEFAULT,
        },
        company.created,
    )
    .await?;
    s.user(
        &format!("manager@{}.example", company.slug),
        (
            "Morgan",
            company.name.split(' ').next().unwrap_or("Manager"),
        ),
        Role::Company {
            company: id,
            manager: true,
            learner: false,
        },
        Some(("company manager", company.name, company.state)),
        company.created,
    )
    .await?;
    for n in 1..=5 {
        let state = match (company.licensed_at, n) {
            (Some(_), 1..=3) => "licensed",
            (Some(_), _) => "licence expired",
            (None, _) => company.learners,
        };
        s.user(
            &format!("learner{n}@{}.example", company.slug),
            ("Learner", &n.to_string()),
            Role::Company {
                company: id,
                manager: false,
                learner: true,
            },
            Some(("learner", company.name, state)),
            company.created,
        )
        .await?;
    }
    Ok(id)
}

/// What a bulk seed created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BulkSeed {
    pub partner: PartnerId,
    pub companies: u64,
    pub learners: u64,
}

/// Seeds `companies` companies of `learners` learners each under a new partner, in one
/// transaction, with set-based inserts generated inside the database. Every tenth company is on
/// a running trial; the others are Premium with every learner holding a seat.
pub async fn bulk(
    db: &Db,
    password_hash: &str,
    companies: u64,
    learners: u64,
    now: Timestamp,
) -> DbResult<BulkSeed> {
    let mut tx = db.begin_write().await?;
    let partner = partners::create(
        &mut tx,
        None,
        &valid(OrgName::parse(&format!("Benchmark Partner {}", secs(now)))),
        TrialDays::DEFAULT,
        now,
    )
    .await?;
    let next_id = |table: &str| format!("SELECT COALESCE(MAX(id), 0) + 1 FROM {table}");
    let mut base = Vec::new();
    for table in ["companies", "users", "licence_batches", "seats"] {
        let id: i64 = sqlx::query_scalar(&next_id(table))
            .fetch_one(&mut *tx)
            .await?;
        base.push(id);
    }
    let [company0, user0, batch0, seat0] = base[..] else {
        unreachable!("four tables were read");
    };
    let (n, m) = (companies as i64, learners as i64);
    let trial_end = secs(now + SignedDuration::from_hours(24 * 20));
    let assigned = secs(now - SignedDuration::from_hours(24 * 30));
    let expires = secs(crate::domain::company::batch_expires_at(
        now - SignedDuration::from_hours(24 * 30),
    ));
    let seq = |limit: &str| {
        format!(
            "WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n + 1 < {limit}) "
        )
    };
    use BulkArg::{I, T};
    let ints = |values: &[i64]| values.iter().copied().map(I).collect::<Vec<_>>();
    let statements = [
        // Companies: every tenth on trial, the rest Premium (trial ended when licensed).
        (
            format!(
                "{} INSERT INTO companies (id, partner_id, name, country, time_zone, trial_ends_at, \
                 trial_due_at, licensed_until, created_at) SELECT $1 + n, $2, \
                 'Company ' || (1000000 + n), 'GB', 'Europe/London', \
                 CASE WHEN n % 10 = 0 THEN $3 ELSE $4 END, CASE WHEN n % 10 = 0 THEN $7 END, \
                 CASE WHEN n % 10 = 0 THEN NULL ELSE $5 END, $4 FROM seq",
                seq("$6")
            ),
            ints(&[
                company0,
                partner.0,
                trial_end,
                assigned,
                expires,
                n,
                trial_end - REMINDER_SECS,
            ]),
        ),
        (
            format!(
                "{} INSERT INTO users (id, email, first_name, last_name, password_hash, kind, \
                 company_id, is_manager, is_learner, created_at) SELECT $1 + n, \
                 'manager.' || ($2 + n) || '@bench.example', 'Manager', '' || ($2 + n), $3, \
                 'company', $2 + n, 1, 0, $4 FROM seq",
                seq("$5")
            ),
            vec![I(user0), I(company0), T(password_hash), I(assigned), I(n)],
        ),
        (
            format!(
                "{} INSERT INTO users (id, email, first_name, last_name, password_hash, kind, \
                 company_id, is_manager, is_learner, created_at) SELECT $1 + n, \
                 'learner.' || ($1 + n) || '@bench.example', 'Learner', '' || ($1 + n), $2, \
                 'company', $3 + n / $4, 0, 1, $5 FROM seq",
                seq("$6")
            ),
            vec![
                I(user0 + n),
                T(password_hash),
                I(company0),
                I(m.max(1)),
                I(assigned),
                I(n * m),
            ],
        ),
        (
            format!(
                "{} INSERT INTO licence_batches (id, company_id, kind, quantity, allocated, \
                 assigned_at, expires_at, due_at) SELECT $1 + n, $2 + n, 'premium', $3 + 10, $3, \
                 $4, $5, $7 FROM seq WHERE n % 10 <> 0",
                seq("$6")
            ),
            ints(&[
                batch0,
                company0,
                m,
                assigned,
                expires,
                n,
                expires - REMINDER_SECS,
            ]),
        ),
        (
            format!(
                "{} INSERT INTO seat_events (at, kind, company_id, batch_id, quantity, expires_at) \
                 SELECT $1, 'batch_assigned', $2 + n, $3 + n, $4 + 10, $5 FROM seq WHERE n % 10 <> 0",
                seq("$6")
            ),
            ints(&[assigned, company0, batch0, m, expires, n]),
        ),
        (
            format!(
                "{} INSERT INTO seats (id, batch_id, company_id, user_id, allocated_at) \
                 SELECT $1 + n, $2 + n / $3, $4 + n / $3, $5 + n, $6 FROM seq WHERE (n / $3) % 10 <> 0",
                seq("$7")
            ),
            ints(&[
                seat0,
                batch0,
                m.max(1),
                company0,
                user0 + n,
                assigned,
                n * m,
            ]),
        ),
        (
            "INSERT INTO seat_events (at, kind, company_id, batch_id, user_id) \
             SELECT s.allocated_at, 'seat_allocated', s.company_id, s.batch_id, s.user_id \
             FROM seats s WHERE s.id >= $1 ORDER BY s.id"
                .to_owned(),
            ints(&[seat0]),
        ),
    ];
    for (sql, binds) in statements {
        let mut query = sqlx::query(&sql);
        for arg in binds {
            query = match arg {
                I(value) => query.bind(value),
                T(text) => query.bind(text),
            };
        }
        query.execute(&mut *tx).await?;
    }
    if db.backend() == Backend::Postgres {
        // Rows were inserted with explicit ids; move each identity past them.
        for table in ["companies", "users", "licence_batches", "seats"] {
            tx.execute(
                format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                )
                .as_str(),
            )
            .await?;
        }
    }
    tx.commit().await?;
    if db.backend() == Backend::Postgres {
        // A bulk load leaves the planner without statistics until autovacuum catches up.
        sqlx::query("ANALYZE").execute(db.pool()).await?;
    }
    Ok(BulkSeed {
        partner,
        companies,
        learners: companies * learners,
    })
}

/// The reminder lead in seconds, for due instants computed in SQL.
const REMINDER_SECS: i64 = crate::domain::schedule::REMINDER_LEAD.as_secs();

/// A bind value of a bulk insert.
enum BulkArg<'a> {
    I(i64),
    T(&'a str),
}
