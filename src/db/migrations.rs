//! Schema migrations: one folder per database with the same versions and names (a test checks
//! they match), embedded in the binary and applied in one transaction.

use sqlx::Executor;

use super::{Backend, Db, DbResult, secs};

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

macro_rules! migration {
    ($version:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $file,
            sqlite: include_str!(concat!("../../migrations/sqlite/", $file)),
            postgres: include_str!(concat!("../../migrations/postgres/", $file)),
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
];

/// Applies the migrations this database has not seen. Safe to run from several servers at once.
pub async fn run(db: &Db) -> DbResult<Vec<i64>> {
    let mut tx = db.begin_write().await?;
    if db.backend() == Backend::Postgres {
        // Two servers starting together must not both create the schema.
        tx.execute("SELECT pg_advisory_xact_lock(7243514001)")
            .await?;
    }
    tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (\
           version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(&mut *tx)
        .await?;
    let now = secs(jiff::Timestamp::now());
    let mut ran = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let sql = match db.backend() {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        ran.push(m.version);
    }
    tx.commit().await?;
    Ok(ran)
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
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
            assert!(m.name.starts_with(&format!("{:04}_", m.version)));
        }
    }
}
