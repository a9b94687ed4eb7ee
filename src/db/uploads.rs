//! Uploaded CSV files, kept for one company between their preview and their application: the
//! table parsed once at upload (in its stored form), and after Import Users the report of the
//! rows not imported. Nothing is kept past `KEPT_FOR`.

use jiff::Timestamp;
use sqlx::{Any, Transaction};

use super::locks::{self, Guarded};
use super::{Db, DbError, DbResult, secs};
use crate::domain::{CompanyId, UploadId, UserId};

/// What a file was uploaded for; an upload is only found for its own purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Renewal,
    Users,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Renewal => "renewal",
            Purpose::Users => "users",
        }
    }
}

/// A kept upload: the parsed table until it is applied, then (Import Users) the report.
#[derive(sqlx::FromRow)]
pub struct Upload {
    pub file_name: String,
    pub parsed: Option<Vec<u8>>,
    pub report: Option<Vec<u8>>,
    /// How the file's bytes were read: `utf-8` or `windows-1252`.
    pub encoding: String,
}

/// A parsed file to keep for `company`.
pub struct NewUpload<'a> {
    pub company: CompanyId,
    pub purpose: Purpose,
    pub file_name: &'a str,
    /// The table's stored form (`CsvTable::to_bytes`).
    pub parsed: &'a [u8],
    /// How the file's bytes were read: `utf-8` or `windows-1252`.
    pub encoding: &'a str,
    pub by: Option<UserId>,
}

/// Keeps a parsed file and returns its id, or `None` when the company's uploads and this one
/// would hold more than `quota` bytes. The company's uploads are summed under its lock in the
/// transaction that adds this one, so uploads at once stop at the quota together.
pub async fn store(
    db: &Db,
    upload: &NewUpload<'_>,
    quota: u64,
    now: Timestamp,
) -> DbResult<Option<UploadId>> {
    let mut tx = db.begin_write().await?;
    locks::lock(&mut tx, db.backend(), Guarded::Uploads(upload.company)).await?;
    let held: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM csv_uploads WHERE company_id = $1",
    )
    .bind(upload.company.0)
    .fetch_one(&mut *tx)
    .await?;
    if u64::try_from(held).unwrap_or(0) + upload.parsed.len() as u64 > quota {
        return Ok(None);
    }
    let id = sqlx::query_scalar(
        "INSERT INTO csv_uploads (company_id, purpose, file_name, parsed, size, created_by, \
         created_at, encoding) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(upload.company.0)
    .bind(upload.purpose.as_str())
    .bind(upload.file_name)
    .bind(upload.parsed)
    .bind(upload.parsed.len() as i64)
    .bind(upload.by.map(|u| u.0))
    .bind(secs(now))
    .bind(upload.encoding)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(UploadId(id)))
}

/// Upload `id` of `company` for `purpose`; another company's upload is not found.
pub async fn get(db: &Db, company: CompanyId, id: UploadId, purpose: Purpose) -> DbResult<Upload> {
    let upload: Option<Upload> = sqlx::query_as(
        "SELECT file_name, parsed, report, encoding FROM csv_uploads \
         WHERE id = $1 AND company_id = $2 AND purpose = $3",
    )
    .bind(id.0)
    .bind(company.0)
    .bind(purpose.as_str())
    .fetch_optional(db.pool())
    .await?;
    upload.ok_or(DbError::NotFound)
}

/// An applied renewal's file goes with the renewal it made.
pub async fn delete(tx: &mut Transaction<'static, Any>, id: UploadId) -> DbResult<()> {
    sqlx::query("DELETE FROM csv_uploads WHERE id = $1")
        .bind(id.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// An applied import's file goes; the report of its rows not imported stays for download.
pub async fn replace_with_report(
    db: &Db,
    id: UploadId,
    report: &[u8],
    now: Timestamp,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE csv_uploads SET parsed = NULL, report = $1, size = $2, applied_at = $3 \
         WHERE id = $4",
    )
    .bind(report)
    .bind(report.len() as i64)
    .bind(secs(now))
    .bind(id.0)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Deletes up to `limit` uploads created at or before `before`, oldest first, reading only
/// those (by the index on `created_at`); returns how many went.
pub async fn delete_created_before(db: &Db, before: Timestamp, limit: u32) -> DbResult<u64> {
    let done = sqlx::query(
        "DELETE FROM csv_uploads WHERE id IN \
         (SELECT id FROM csv_uploads WHERE created_at <= $1 ORDER BY created_at LIMIT $2)",
    )
    .bind(secs(before))
    .bind(i64::from(limit))
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected())
}
