//! Bulk data for benchmarks: N companies of M learners, generated inside the database.

use jiff::{SignedDuration, Timestamp};
use sqlx::Executor;

use super::valid;
use crate::db::{Backend, Db, DbResult, partners, secs};
use crate::domain::{OrgName, PartnerId, TrialDays};
use crate::progress::{Progress, Silent};

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
    bulk_with(db, password_hash, companies, learners, now, &mut Silent).await
}

/// `bulk`, telling `progress` as each of its set-based inserts is done.
pub async fn bulk_with(
    db: &Db,
    password_hash: &str,
    companies: u64,
    learners: u64,
    now: Timestamp,
    progress: &mut dyn Progress,
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
    for table in ["companies", "users", "licence_batches", "seats", "orders"] {
        let id: i64 = sqlx::query_scalar(&next_id(table))
            .fetch_one(&mut *tx)
            .await?;
        base.push(id);
    }
    let [company0, user0, batch0, seat0, order0] = base[..] else {
        unreachable!("five tables were read");
    };
    let (n, m) = (companies as i64, learners as i64);
    let trial_end = secs(now + SignedDuration::from_hours(24 * 20));
    let assigned = secs(now - SignedDuration::from_hours(24 * 30));
    let expires = secs(crate::domain::company::batch_expires_at(
        now - SignedDuration::from_hours(24 * 30),
    ));
    // The numbers 0 .. limit - 1: PostgreSQL's generate_series streams them; SQLite has no
    // such function built in, and its recursive CTE is as quick there.
    let backend = db.backend();
    let seq = |limit: &str| match backend {
        Backend::Postgres => {
            format!("WITH seq(n) AS (SELECT generate_series(0, CAST({limit} AS BIGINT) - 1)) ")
        }
        Backend::Sqlite => format!(
            "WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n + 1 < {limit}) "
        ),
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
        // Orders: a Premium company's batch came from its assigned order; a company on trial
        // has asked to upgrade. They were requested a minute apart, the last when the batches
        // were assigned. An order asks for 100,000 seats at most (a bigger batch took several).
        (
            format!(
                "{} INSERT INTO orders (id, company_id, partner_id, kind, quantity, state, \
                 requested_at, decided_at) SELECT $1 + n, $2 + n, $3, 'premium', \
                 CASE WHEN $4 + 10 > 100000 THEN 100000 ELSE $4 + 10 END, \
                 CASE WHEN n % 10 = 0 THEN 'requested' ELSE 'assigned' END, $5 - 60 * ($6 - n), \
                 CASE WHEN n % 10 = 0 THEN NULL ELSE $5 END FROM seq",
                seq("$6")
            ),
            ints(&[order0, company0, partner.0, m, assigned, n]),
        ),
        (
            format!(
                "{} INSERT INTO licence_batches (id, company_id, order_id, kind, quantity, \
                 allocated, assigned_at, expires_at, due_at) SELECT $1 + n, $2 + n, $8 + n, \
                 'premium', $3 + 10, $3, $4, $5, $7 FROM seq WHERE n % 10 <> 0",
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
                order0,
            ]),
        ),
        // Activity: one entry per order, as the order's request or assignment wrote it.
        (
            "INSERT INTO activity (at, partner_id, company_id, action, detail) \
             SELECT COALESCE(o.decided_at, o.requested_at), o.partner_id, o.company_id, \
             CASE o.state WHEN 'assigned' THEN 'order_assigned' ELSE 'order_requested' END, \
             CASE o.state WHEN 'assigned' \
               THEN 'Assigned order ' || o.id || ': ' || o.quantity || ' Premium licences' \
               ELSE 'Requested ' || o.quantity || ' Premium licences (order ' || o.id || ')' END \
             FROM orders o WHERE o.id >= $1 ORDER BY o.id"
                .to_owned(),
            ints(&[order0]),
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
    // PostgreSQL keeps every index up to date, and checks every foreign key, row by row as a
    // million rows go in; building an index once over the loaded table, and checking a key
    // with one join, is several times quicker. So the plain indexes and the foreign keys of the
    // big tables come off here and go back, as the catalog defined them, before the commit.
    // (This locks those tables until then: a seed for benchmarks, not for a live instance.)
    // Indexes behind constraints stay, as foreign keys lean on them.
    let set_aside: Vec<(String, String)> = match backend {
        Backend::Postgres => {
            sqlx::query_as(
                "SELECT 'DROP INDEX ' || quote_ident(indexname), indexdef FROM pg_indexes \
                 WHERE schemaname = current_schema() \
                 AND tablename IN ('users', 'seats', 'seat_events') \
                 AND indexname NOT IN (SELECT conname FROM pg_constraint) \
                 UNION ALL \
                 SELECT 'ALTER TABLE ' || CAST(conrelid AS regclass) || ' DROP CONSTRAINT ' \
                   || quote_ident(conname), \
                 'ALTER TABLE ' || CAST(conrelid AS regclass) || ' ADD CONSTRAINT ' \
                   || quote_ident(conname) || ' ' || pg_get_constraintdef(oid) \
                 FROM pg_constraint WHERE contype = 'f' AND conrelid IN \
                 (CAST('users' AS regclass), CAST('seats' AS regclass), \
                  CAST('seat_events' AS regclass))",
            )
            .fetch_all(&mut *tx)
            .await?
        }
        Backend::Sqlite => Vec::new(),
    };
    for (drop, _) in &set_aside {
        tx.execute(drop.as_str()).await?;
    }
    let steps = statements.len() as u64;
    for (done, (sql, binds)) in statements.into_iter().enumerate() {
        let mut query = sqlx::query(&sql);
        for arg in binds {
            query = match arg {
                I(value) => query.bind(value),
                T(text) => query.bind(text),
            };
        }
        query.execute(&mut *tx).await?;
        progress.step("demo: tables filled", done as u64 + 1, steps);
    }
    for (_, restore) in &set_aside {
        tx.execute(restore.as_str()).await?;
    }
    if db.backend() == Backend::Postgres {
        // Rows were inserted with explicit ids; move each identity past them.
        for table in ["companies", "users", "licence_batches", "seats", "orders"] {
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
