//! Uploaded files within bounds: parsed once and kept compact, listed a page's worth at a time
//! with a download for the rest, downloads a spreadsheet opens safely and nobody caches, heavy
//! work under a concurrency limit (503 with Retry-After beyond it), a per-company quota, uploads
//! deleted once applied or after a day, and column numbers that never wrap.

use std::time::Duration;

use axum::http::{StatusCode, header};
use jiff::SignedDuration;
use seatledger::db::seed;
use seatledger::imports::csv_table::{CsvTable, read};
use seatledger::ops::expiry::run_pass;
use seatledger::ops::limits::WorkLimit;

use crate::on_both_databases;
use crate::support::{TestDb, at};
use crate::web::{Client, NOW, demo_app, demo_app_on};

async fn echo_manager(app: &seatledger::app::App) -> Client {
    let mut client = Client::new(app);
    client
        .sign_in("manager@echo.example", seed::DEMO_PASSWORD)
        .await;
    client
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap()
}

/// Uploads `bytes` to `form` (the renewal or the user import); returns the reply.
async fn upload(client: &mut Client, form: &str, bytes: &[u8]) -> crate::web::Reply {
    client.get(form).await;
    client.upload(form, "file.csv", bytes).await
}

/// A user-import file: `bad` rows that are not emails (one a formula), then two good rows.
fn import_file(bad: usize) -> Vec<u8> {
    let mut file = String::from("email,first name\n=cmd|' /C calc'!A0,Eve\n");
    for i in 1..bad {
        file.push_str(&format!("not-an-email-{i},Bad\n"));
    }
    file.push_str("new.one@echo.example,One\nnew.two@echo.example,Two\n");
    file.into_bytes()
}

#[tokio::test]
async fn an_upload_is_parsed_once_and_kept_in_its_compact_form() {
    let (db, app, _) = demo_app().await;
    let mut manager = echo_manager(&app).await;
    let file = b"\xEF\xBB\xBFEmail;Name\r\n\"learner4@echo.example\" ; Four\r\n\r\nx;y\r\n";
    let reply = upload(&mut manager, "/company/licenses/renewal", file).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let parsed: Vec<u8> = sqlx::query_scalar("SELECT parsed FROM csv_uploads")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(CsvTable::from_bytes(&parsed).unwrap(), read(file).unwrap());
    let size = count(&db, "SELECT size FROM csv_uploads").await;
    assert_eq!(size, parsed.len() as i64);
}

#[tokio::test]
async fn the_import_page_lists_fifty_bad_rows_and_the_download_has_them_all_safely() {
    let (db, app, _) = demo_app().await;
    let mut manager = echo_manager(&app).await;
    let reply = upload(&mut manager, "/company/users/import", &import_file(1_000)).await;
    let path = reply.location.expect("kept");
    let page = manager.get(&path).await;
    assert!(
        page.body
            .contains("2 rows can be imported; 1000 rows cannot.")
    );
    assert!(
        page.body.contains("(the first 50 of 1000)"),
        "{}",
        page.body
    );
    assert_eq!(page.body.matches("<td>not an email</td>").count(), 50);
    let download = format!("{path}/problems.csv?email=0&first_name=1&last_name=&department=");
    assert!(page.body.contains(&download.replace('&', "&#38;")));

    let before = manager.get(&download).await;
    assert_eq!(before.status, StatusCode::OK);
    assert_eq!(before.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(before.body.lines().count(), 1 + 1_000);
    assert!(
        before
            .body
            .starts_with("line,value,reason\n2,'=cmd|' /C calc'!A0,not an email\n")
    );

    let imported = manager
        .post(&path, &[("email", "0"), ("first_name", "1")])
        .await;
    assert_eq!(imported.status, StatusCode::OK);
    assert!(imported.body.contains("Imported 2 users"));
    assert_eq!(imported.body.matches("<td>not an email</td>").count(), 50);
    // The file went; the report of what was not imported stays for download.
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM csv_uploads WHERE parsed IS NULL AND report IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(manager.get(&path).await.status, StatusCode::NOT_FOUND);
    let after = manager.get(&format!("{path}/problems.csv")).await;
    assert_eq!(after.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(after.body, before.body);
}

#[tokio::test]
async fn the_renewal_report_neutralises_formulas_and_is_never_cached() {
    let (_db, app, _) = demo_app().await;
    let mut manager = echo_manager(&app).await;
    let file = b"email\nlearner4@echo.example\n=cmd|' /C calc'!A0\n+1+1\n@SUM(1)\n-2\n";
    let path = upload(&mut manager, "/company/licenses/renewal", file)
        .await
        .location
        .unwrap();
    let report = manager.get(&format!("{path}/report.csv?column=0")).await;
    assert_eq!(report.status, StatusCode::OK);
    assert_eq!(report.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        report.body,
        "line,email,outcome\n2,learner4@echo.example,will be renewed\n\
         3,'=cmd|' /C calc'!A0,not an email\n4,'+1+1,not an email\n\
         5,'@SUM(1),not an email\n6,'-2,not an email\n"
    );
}

#[tokio::test]
async fn column_numbers_beyond_the_file_are_refused_by_name_and_never_wrap() {
    let (db, app, _) = demo_app().await;
    let mut manager = echo_manager(&app).await;
    let path = upload(
        &mut manager,
        "/company/licenses/renewal",
        b"email\nx@y.example\n",
    )
    .await
    .location
    .unwrap();
    for column in [
        "18446744073709551615",
        "3",
        "99999999999999999999999999",
        "-1",
    ] {
        for reply in [
            manager.get(&format!("{path}?column={column}")).await,
            manager
                .get(&format!("{path}/report.csv?column={column}"))
                .await,
            manager.post(&path, &[("column", column)]).await,
        ] {
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{column}");
            assert!(reply.body.contains("Column:"), "{column}: {}", reply.body);
            assert!(!reply.body.contains("column 0"), "{column}");
        }
    }
    let beyond = manager
        .get(&format!("{path}?column=18446744073709551615"))
        .await;
    assert!(
        beyond.body.contains("Column: must be between 1 and 1"),
        "{}",
        beyond.body
    );
    // The import's mapping falls back to the likely column for one the file lacks.
    let import = upload(
        &mut manager,
        "/company/users/import",
        b"email\nx@y.example\n",
    )
    .await
    .location
    .unwrap();
    let mapping = manager
        .get(&format!("{import}?email=18446744073709551615"))
        .await;
    assert_eq!(mapping.status, StatusCode::OK);
    assert!(
        mapping
            .body
            .contains(r#"<option value="0" selected>email</option>"#)
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM users WHERE email = 'x@y.example'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn uploads_and_previews_beyond_the_work_limit_get_503_with_retry_after() {
    let (_db, app, _) = demo_app().await;
    let limit = WorkLimit::new(1, Duration::ZERO);
    let app = app.with_work_limit(limit.clone());
    let mut manager = echo_manager(&app).await;
    let path = upload(
        &mut manager,
        "/company/licenses/renewal",
        b"email\nx@y.example\n",
    )
    .await
    .location
    .unwrap();

    let held = limit.enter().await.unwrap();
    let busy = upload(
        &mut manager,
        "/company/licenses/renewal",
        b"email\nx@y.example\n",
    )
    .await;
    assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(busy.headers[header::RETRY_AFTER], "5");
    assert!(
        busy.body.contains("Try again in 5 seconds"),
        "{}",
        busy.body
    );
    for path in [path.clone(), format!("{path}/report.csv")] {
        let busy = manager.get(&path).await;
        assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(busy.headers[header::RETRY_AFTER], "5");
    }
    drop(held);
    assert_eq!(manager.get(&path).await.status, StatusCode::OK);
}

on_both_databases!(
    uploads_go_once_applied_or_after_a_day_and_a_company_keeps_at_most_its_quota,
    uploads_kept_at_once_stop_at_the_quota,
);

/// A company one upload short of its quota, sixteen kept at once: one is kept, the rest are
/// refused, and the company holds exactly the quota (the sum is taken under its lock).
async fn uploads_kept_at_once_stop_at_the_quota(db: TestDb) {
    use seatledger::db::uploads::{self, NewUpload, Purpose};

    let world = crate::support::World { db: &db };
    let partner = world.partner(None, "Uploading IT").await;
    let company = world.company(partner, "Many Files Ltd", at(NOW)).await;
    let parsed = read(b"email\nann@files.example\n").unwrap().to_bytes();
    let upload = NewUpload {
        company,
        purpose: uploads::Purpose::Users,
        file_name: "people.csv",
        parsed: &parsed,
        encoding: "utf-8",
        by: None,
    };
    let size = parsed.len() as u64;
    let quota = 10 * size;
    for _ in 0..9 {
        let kept = uploads::store(&db, &upload, quota, at(NOW)).await.unwrap();
        assert!(kept.is_some());
    }
    let racers: Vec<_> = (0..16)
        .map(|_| {
            let (db, parsed) = (seatledger::db::Db::clone(&db), parsed.clone());
            tokio::spawn(async move {
                let upload = NewUpload {
                    company,
                    purpose: Purpose::Users,
                    file_name: "people.csv",
                    parsed: &parsed,
                    encoding: "utf-8",
                    by: None,
                };
                uploads::store(&db, &upload, quota, at(NOW)).await.unwrap()
            })
        })
        .collect();
    let mut kept = 0;
    for racer in racers {
        kept += usize::from(racer.await.unwrap().is_some());
    }
    assert_eq!(kept, 1);
    let held = count(
        &db,
        &format!(
            "SELECT CAST(SUM(size) AS BIGINT) FROM csv_uploads WHERE company_id = {}",
            company.0
        ),
    )
    .await;
    assert_eq!(held as u64, quota);
}

async fn uploads_go_once_applied_or_after_a_day_and_a_company_keeps_at_most_its_quota(db: TestDb) {
    let (db, app, clock) = demo_app_on(db).await;
    let mut manager = echo_manager(&app).await;
    let echo = count(&db, "SELECT id FROM companies WHERE name = 'Echo Premium'").await;
    let quota = seatledger::ops::uploads::QUOTA_BYTES as i64;
    // Files kept from earlier fill the quota but for a few bytes.
    sqlx::query(
        "INSERT INTO csv_uploads (company_id, purpose, file_name, size, created_at) \
         VALUES ($1, 'users', 'big.csv', $2, $3)",
    )
    .bind(echo)
    .bind(quota - 10)
    .bind(at(NOW).as_second())
    .execute(db.pool())
    .await
    .unwrap();
    let refused = upload(
        &mut manager,
        "/company/users/import",
        b"email\nx@y.example\n",
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .body
            .contains("already keeps 100 MB of uploaded files"),
        "{}",
        refused.body
    );

    // The pass deletes what was kept a day, and only that.
    let early = run_pass(&app.ops, at(NOW) + SignedDuration::from_hours(23))
        .await
        .unwrap();
    assert_eq!(early.uploads_deleted, 0);
    let due = run_pass(&app.ops, at(NOW) + SignedDuration::from_hours(24))
        .await
        .unwrap();
    assert_eq!(due.uploads_deleted, 1);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM csv_uploads").await, 0);

    // Room again; applying a renewal deletes its file with it.
    clock.set(at(NOW) + SignedDuration::from_hours(24));
    let mut manager = echo_manager(&app).await;
    let path = upload(
        &mut manager,
        "/company/licenses/renewal",
        b"email\nx@y.example\n",
    )
    .await
    .location
    .unwrap();
    let applied = manager.post(&path, &[("column", "0")]).await;
    assert_eq!(applied.status, StatusCode::SEE_OTHER);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM csv_uploads").await, 0);
}

/// The preview only reads: on SQLite it runs while another transaction holds the write lock
/// (a preview that took the lock would wait for it, and time out).
#[tokio::test]
async fn a_renewal_preview_runs_while_another_transaction_holds_the_write_lock() {
    let (db, app, _) = demo_app().await;
    let mut manager = echo_manager(&app).await;
    let path = upload(
        &mut manager,
        "/company/licenses/renewal",
        b"email\nlearner4@echo.example\n",
    )
    .await
    .location
    .unwrap();
    let mut writer = db.begin_write().await.unwrap();
    sqlx::query("UPDATE companies SET name = name WHERE id = 0")
        .execute(&mut *writer)
        .await
        .unwrap();
    let preview = tokio::time::timeout(Duration::from_secs(20), manager.get(&path))
        .await
        .expect("the preview waited for the write lock");
    assert_eq!(preview.status, StatusCode::OK);
    assert!(
        preview
            .body
            .contains("<strong>1</strong> learners will be renewed")
    );
    writer.rollback().await.unwrap();
}
