//! What the benchmarks share: each runs once on a fresh SQLite file and once on a fresh
//! PostgreSQL database when a server answers at `SEATLEDGER_TEST_POSTGRES`.

use std::future::Future;

use seatledger::db::Db;

/// Runs `bench` on SQLite, then on PostgreSQL (database `name`, dropped afterwards) if available.
pub async fn on_each_database<F, Fut>(name: &str, mut bench: F)
where
    F: FnMut(&'static str, Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    bench("sqlite", Db::connect_and_migrate(&url).await.unwrap()).await;

    let admin_url = std::env::var("SEATLEDGER_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let admin = match Db::connect(&admin_url).await {
        Ok(admin) => admin,
        Err(e) => {
            println!("postgres  skipped: {e}");
            return;
        }
    };
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::query(&sql).execute(admin.pool()).await.unwrap();
    }
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    let db = Db::connect_and_migrate(&format!("{base}/{name}"))
        .await
        .unwrap();
    bench("postgres", db.clone()).await;
    db.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(admin.pool())
        .await
        .unwrap();
}
