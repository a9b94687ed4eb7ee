//! Schema migrations: one folder per database with the same versions and names (a test checks
//! they match), embedded in the binary and applied one transaction per migration. A database
//! that holds a migration this binary does not know is refused before anything touches it.

use sqlx::{Any, Executor, Transaction};

use super::{Backend, Db, DbError, DbResult, secs};
use crate::progress::{Progress, Silent};

#[derive(Clone, Copy, Debug)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
    /// SQLite tables rebuilt with `INTEGER PRIMARY KEY AUTOINCREMENT` before `sqlite` runs, so
    /// their ids are never reused. The rebuild copies each table's current definition, columns
    /// and indexes as they stand, whatever migrations ran before.
    pub sqlite_autoincrement: &'static [&'static str],
}

macro_rules! migration {
    ($version:literal, $file:literal) => {
        migration!($version, $file, [])
    };
    ($version:literal, $file:literal, [$($table:literal),*]) => {
        Migration {
            version: $version,
            name: $file,
            sqlite: include_str!(concat!("../../migrations/sqlite/", $file)),
            postgres: include_str!(concat!("../../migrations/postgres/", $file)),
            sqlite_autoincrement: &[$($table),*],
        }
    };
}

/// Every migration, in order. Never edit one that has shipped; add the next.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_init.sql"),
    migration!(2, "0002_schedule_and_outbox.sql"),
    migration!(3, "0003_activity_and_tokens.sql"),
    migration!(4, "0004_users_and_uploads.sql"),
    migration!(5, "0005_managed_companies.sql"),
    migration!(7, "0007_webhooks.sql"),
    migration!(10, "0010_operator_and_nfr.sql"),
    migration!(11, "0011_api_keys.sql"),
    migration!(12, "0012_sign_in_hardening.sql"),
    // The tables whose ids the seat ledger, Activity or links name.
    migration!(
        13,
        "0013_ids_never_reused_and_parsed_uploads.sql",
        [
            "partners",
            "companies",
            "users",
            "orders",
            "licence_batches",
            "seats",
            "seat_events",
            "activity"
        ]
    ),
    migration!(14, "0014_company_reads.sql"),
    migration!(15, "0015_console.sql"),
    migration!(16, "0016_api_lists.sql"),
    migration!(17, "0017_partner_lists.sql"),
    migration!(18, "0018_list_sorts.sql"),
    migration!(19, "0019_due_counts.sql"),
    migration!(20, "0020_seat_writes.sql"),
    migration!(21, "0021_access_check.sql"),
    migration!(22, "0022_idempotent_location.sql"),
    migration!(23, "0023_overview_counts.sql"),
    migration!(24, "0024_renewal_writes.sql"),
    migration!(25, "0025_status_ranges.sql"),
];

/// The newest migration this seatledger knows.
pub fn latest() -> &'static Migration {
    MIGRATIONS.last().expect("at least one migration")
}

/// A database that holds a migration this seatledger does not know: it was written by a newer
/// version, and an older binary must not guess at its schema.
#[derive(Debug, thiserror::Error)]
#[error(
    "the database has migration {version} ({name}), which this seatledger {binary} does not know: \
     its newest is migration {known} ({known_name}). The database was written by a newer \
     seatledger and was left untouched; run that version, or restore a backup made by this one"
)]
pub struct NewerDatabase {
    pub version: i64,
    pub name: String,
    pub known: i64,
    pub known_name: &'static str,
    pub binary: &'static str,
}

/// Where a database stands against this seatledger's migrations.
#[derive(Debug)]
pub struct Status {
    /// The newest migration applied (0 for a database without a schema).
    pub version: i64,
    /// What `seatledger migrate` would apply, in order.
    pub pending: Vec<&'static Migration>,
}

/// Reads where `db` stands without changing anything; refuses a database from a newer version.
pub async fn status(db: &Db) -> DbResult<Status> {
    let exists: i64 = sqlx::query_scalar(match db.backend() {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'schema_migrations'"
        }
    })
    .fetch_one(db.pool())
    .await?;
    let applied = if exists == 0 {
        Vec::new()
    } else {
        sqlx::query_as("SELECT version, name FROM schema_migrations")
            .fetch_all(db.pool())
            .await?
    };
    status_of(&applied)
}

fn status_of(applied: &[(i64, String)]) -> DbResult<Status> {
    if let Some((version, name)) = applied
        .iter()
        .filter(|(v, _)| !MIGRATIONS.iter().any(|m| m.version == *v))
        .max_by_key(|(v, _)| *v)
    {
        return Err(NewerDatabase {
            version: *version,
            name: name.clone(),
            known: latest().version,
            known_name: latest().name,
            binary: env!("CARGO_PKG_VERSION"),
        }
        .into());
    }
    Ok(Status {
        version: applied.iter().map(|(v, _)| *v).max().unwrap_or(0),
        pending: MIGRATIONS
            .iter()
            .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
            .collect(),
    })
}

/// Applies every migration this database has not seen. Safe to run from several servers at once.
pub async fn run(db: &Db) -> DbResult<Vec<i64>> {
    apply(db, MIGRATIONS).await
}

/// Applies those of `migrations` that this database has not seen, in order, each in its own
/// transaction: a migration that fails leaves the ones before it applied and nothing of itself.
/// `run` passes every migration; tests pass a prefix to build a database of an older version.
/// A database from a newer version is refused before anything is applied.
pub async fn apply(db: &Db, migrations: &[Migration]) -> DbResult<Vec<i64>> {
    apply_with(db, migrations, &mut Silent).await
}

/// `run`, telling `progress` as each migration is done (a big database's take long).
pub async fn run_with(db: &Db, progress: &mut dyn Progress) -> DbResult<Vec<i64>> {
    apply_with(db, MIGRATIONS, progress).await
}

/// `apply`, telling `progress` as each migration is done.
pub async fn apply_with(
    db: &Db,
    migrations: &[Migration],
    progress: &mut dyn Progress,
) -> DbResult<Vec<i64>> {
    let mut tx = lock(db).await?;
    tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (\
           version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await?;
    status_of(&applied(&mut tx).await?)?;
    tx.commit().await?;
    let mut ran = Vec::new();
    for m in migrations {
        let applied_now = match db.backend() {
            Backend::Sqlite => apply_sqlite(db, m).await?,
            Backend::Postgres => {
                let mut tx = lock(db).await?;
                let applied_now = apply_in(&mut tx, m, m.postgres).await?;
                tx.commit().await?;
                applied_now
            }
        };
        if applied_now {
            tracing::info!(version = m.version, name = m.name, "applied migration");
            ran.push(m.version);
        }
        let done = migrations
            .iter()
            .take_while(|n| n.version <= m.version)
            .count();
        progress.step("migrate: migrations", done as u64, migrations.len() as u64);
    }
    Ok(ran)
}

/// Rebuilds `table` as SQLite's "ALTER TABLE" page describes (a new table, the rows copied, the
/// old one dropped, the new one renamed, the indexes made again), its integer primary key now
/// `AUTOINCREMENT`. Its definition and indexes are read from the schema as they stand, so the
/// columns other migrations added or dropped are kept as they are. Triggers are not made again:
/// a later migration that rebuilt `users`, `companies` or `licence_batches` this way would have
/// to make those of 0017 and 0023 again, or the counts they keep would drift unseen.
async fn rebuild_with_autoincrement(tx: &mut Transaction<'_, Any>, table: &str) -> DbResult<()> {
    let definition: String =
        sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = $1")
            .bind(table)
            .fetch_one(&mut **tx)
            .await?;
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL",
    )
    .bind(table)
    .fetch_all(&mut **tx)
    .await?;
    let corrupt = |what: &str| DbError::Corrupt(format!("table {table}: {what}"));
    let columns = definition
        .find('(')
        .ok_or_else(|| corrupt("no column list"))?;
    let body = &definition[columns..];
    if body.contains("AUTOINCREMENT") {
        return Ok(());
    }
    let key = body
        .find("INTEGER PRIMARY KEY")
        .ok_or_else(|| corrupt("no INTEGER PRIMARY KEY"))?
        + "INTEGER PRIMARY KEY".len();
    let new = format!(
        "CREATE TABLE {table}_rebuilt {}INTEGER PRIMARY KEY AUTOINCREMENT{}",
        &body[..key - "INTEGER PRIMARY KEY".len()],
        &body[key..]
    );
    sqlx::raw_sql(&new).execute(&mut **tx).await?;
    let copy = format!(
        "INSERT INTO {table}_rebuilt SELECT * FROM {table}; DROP TABLE {table}; \
         ALTER TABLE {table}_rebuilt RENAME TO {table};"
    );
    sqlx::raw_sql(&copy).execute(&mut **tx).await?;
    for index in indexes {
        sqlx::raw_sql(&index).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Applies `m` in `tx` unless another server already has; returns whether it ran.
async fn apply_in(tx: &mut Transaction<'_, Any>, m: &Migration, sql: &str) -> DbResult<bool> {
    if applied(tx).await?.iter().any(|(v, _)| *v == m.version) {
        return Ok(false);
    }
    sqlx::raw_sql(sql).execute(&mut **tx).await?;
    sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
        .bind(m.version)
        .bind(m.name)
        .bind(secs(jiff::Timestamp::now()))
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

/// SQLite rebuilds a table to change it (a new table, the rows copied, the old one dropped):
/// with foreign keys on, dropping the old table would cascade to the rows that refer to it. So
/// a migration runs on one connection with foreign keys off, and commits only if every foreign
/// key still holds; the connection is closed afterwards rather than returned to the pool
/// without its foreign keys.
async fn apply_sqlite(db: &Db, m: &Migration) -> DbResult<bool> {
    use sqlx::Connection;

    let mut conn = db.pool().acquire().await?;
    conn.close_on_drop();
    conn.execute("PRAGMA foreign_keys = OFF").await?;
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    if applied(&mut tx).await?.iter().any(|(v, _)| *v == m.version) {
        return Ok(false);
    }
    for table in m.sqlite_autoincrement {
        rebuild_with_autoincrement(&mut tx, table).await?;
    }
    apply_in(&mut tx, m, m.sqlite).await?;
    let broken: Vec<(String, Option<i64>, String)> =
        sqlx::query_as("SELECT \"table\", rowid, parent FROM pragma_foreign_key_check")
            .fetch_all(&mut *tx)
            .await?;
    if let Some((table, row, parent)) = broken.first() {
        return Err(DbError::Corrupt(format!(
            "migration {} leaves {table} row {row:?} referring to a missing {parent}",
            m.name
        )));
    }
    tx.commit().await?;
    Ok(true)
}

/// A write transaction that holds the migration lock: two servers starting together must not
/// both apply the same migration (on SQLite the write lock already serialises them).
async fn lock(db: &Db) -> DbResult<Transaction<'static, Any>> {
    let mut tx = db.begin_write().await?;
    if db.backend() == Backend::Postgres {
        tx.execute("SELECT pg_advisory_xact_lock(7243514001)")
            .await?;
    }
    Ok(tx)
}

async fn applied(tx: &mut Transaction<'_, Any>) -> DbResult<Vec<(i64, String)>> {
    Ok(
        sqlx::query_as("SELECT version, name FROM schema_migrations")
            .fetch_all(&mut **tx)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    fn files(dir: &str) -> Vec<String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/").to_owned() + dir;
        let mut names: Vec<String> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn both_databases_have_the_same_migrations_and_all_are_embedded() {
        let sqlite = files("sqlite");
        assert_eq!(sqlite, files("postgres"));
        let embedded: Vec<String> = MIGRATIONS.iter().map(|m| m.name.to_owned()).collect();
        assert_eq!(sqlite, embedded);
        // Versions rise; a gap is a migration another branch brings (the merge renumbers).
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version, "{}", pair[1].name);
        }
        for m in MIGRATIONS {
            assert!(m.name.starts_with(&format!("{:04}_", m.version)));
        }
    }
}
