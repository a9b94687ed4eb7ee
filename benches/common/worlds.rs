//! The small and the large world that the size benchmarks compare, on each backend.

use seatledger::db::{Backend, Db};

/// Brings a freshly seeded `db` to where a database in service stands: on PostgreSQL, its
/// tables vacuumed and analysed, as autovacuum leaves them (it would not have come round yet
/// after a bulk seed, and the server may run with it off). Without it PostgreSQL plans with no
/// statistics, and its index-only scans read the table too.
pub async fn settle(db: &Db) {
    if db.backend() == Backend::Postgres {
        sqlx::query("VACUUM ANALYZE")
            .execute(db.pool())
            .await
            .unwrap();
    }
}

/// Runs `compare` on an empty small and large database, on SQLite and then on PostgreSQL
/// (`SEATLEDGER_TEST_POSTGRES`, or the local server; skipped when there is none). `bench` names
/// the PostgreSQL databases, which are made afresh and dropped after.
pub async fn small_and_large(bench: &str, mut compare: impl AsyncFnMut(&str, Db, Db)) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    compare(
        "sqlite",
        Db::connect_and_migrate(&sqlite("small.db")).await.unwrap(),
        Db::connect_and_migrate(&sqlite("large.db")).await.unwrap(),
    )
    .await;

    let admin_url = std::env::var("SEATLEDGER_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let admin = match Db::connect(&admin_url).await {
        Ok(admin) => admin,
        Err(e) => {
            println!("postgres  skipped: {e}");
            return;
        }
    };
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    let names = [
        format!("seatledger_bench_{bench}_small"),
        format!("seatledger_bench_{bench}_large"),
    ];
    let mut dbs = Vec::new();
    for name in &names {
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            sqlx::query(&sql).execute(admin.pool()).await.unwrap();
        }
        dbs.push(
            Db::connect_and_migrate(&format!("{base}/{name}"))
                .await
                .unwrap(),
        );
    }
    let large = dbs.pop().unwrap();
    let small = dbs.pop().unwrap();
    compare("postgres", small, large).await;
    for name in &names {
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(admin.pool())
            .await
            .unwrap();
    }
}
