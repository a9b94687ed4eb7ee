//! Uploaded CSV files, kept for one company between their preview and their application.

use jiff::Timestamp;
use sqlx::{Any, Transaction};

use super::{Db, DbError, DbResult, instant, secs};
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

pub struct Upload {
    pub file_name: String,
    pub content: String,
    /// How the file's bytes were read: `utf-8` or `windows-1252`.
    pub encoding: String,
    pub applied_at: Option<Timestamp>,
}

/// A decoded file to keep for `company`.
pub struct NewUpload<'a> {
    pub company: CompanyId,
    pub purpose: Purpose,
    pub file_name: &'a str,
    pub content: &'a str,
    /// How the file's bytes were read: `utf-8` or `windows-1252`.
    pub encoding: &'a str,
    pub by: Option<UserId>,
}

/// Keeps a decoded file; returns its id.
pub async fn store(db: &Db, upload: &NewUpload<'_>, now: Timestamp) -> DbResult<UploadId> {
    let id = sqlx::query_scalar(
        "INSERT INTO csv_uploads (company_id, purpose, file_name, content, created_by, created_at, \
         encoding) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(upload.company.0)
    .bind(upload.purpose.as_str())
    .bind(upload.file_name)
    .bind(upload.content)
    .bind(upload.by.map(|u| u.0))
    .bind(secs(now))
    .bind(upload.encoding)
    .fetch_one(db.pool())
    .await?;
    Ok(UploadId(id))
}

/// Upload `id` of `company` for `purpose`; another company's upload is not found.
pub async fn get(db: &Db, company: CompanyId, id: UploadId, purpose: Purpose) -> DbResult<Upload> {
    let row: Option<(String, String, Option<i64>, String)> = sqlx::query_as(
        "SELECT file_name, content, applied_at, encoding FROM csv_uploads \
         WHERE id = $1 AND company_id = $2 AND purpose = $3",
    )
    .bind(id.0)
    .bind(company.0)
    .bind(purpose.as_str())
    .fetch_optional(db.pool())
    .await?;
    let (file_name, content, applied_at, encoding) = row.ok_or(DbError::NotFound)?;
    Ok(Upload {
        file_name,
        content,
        encoding,
        applied_at: applied_at.map(instant),
    })
}

pub async fn mark_applied(
    tx: &mut Transaction<'static, Any>,
    id: UploadId,
    now: Timestamp,
) -> DbResult<()> {
    sqlx::query("UPDATE csv_uploads SET applied_at = $1 WHERE id = $2")
        .bind(secs(now))
        .bind(id.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
