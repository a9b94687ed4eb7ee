//! Uploaded CSV files, kept for one company between their preview and their application.

use jiff::Timestamp;
use sqlx::{Any, Transaction};

use super::{Db, DbError, DbResult, instant, secs};
use crate::domain::{CompanyId, UserId};

pub struct Upload {
    pub file_name: String,
    pub content: String,
    pub applied_at: Option<Timestamp>,
}

/// Keeps a decoded file for `company`; returns its id.
pub async fn store(
    db: &Db,
    company: CompanyId,
    purpose: &str,
    file_name: &str,
    content: &str,
    by: UserId,
    now: Timestamp,
) -> DbResult<i64> {
    let id = sqlx::query_scalar(
        "INSERT INTO csv_uploads (company_id, purpose, file_name, content, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(company.0)
    .bind(purpose)
    .bind(file_name)
    .bind(content)
    .bind(by.0)
    .bind(secs(now))
    .fetch_one(db.pool())
    .await?;
    Ok(id)
}

/// Upload `id` of `company` for `purpose`; another company's upload is not found.
pub async fn get(db: &Db, company: CompanyId, id: i64, purpose: &str) -> DbResult<Upload> {
    let row: Option<(String, String, Option<i64>)> = sqlx::query_as(
        "SELECT file_name, content, applied_at FROM csv_uploads \
         WHERE id = $1 AND company_id = $2 AND purpose = $3",
    )
    .bind(id)
    .bind(company.0)
    .bind(purpose)
    .fetch_optional(db.pool())
    .await?;
    let (file_name, content, applied_at) = row.ok_or(DbError::NotFound)?;
    Ok(Upload {
        file_name,
        content,
        applied_at: applied_at.map(instant),
    })
}

pub async fn mark_applied(
    tx: &mut Transaction<'static, Any>,
    id: i64,
    now: Timestamp,
) -> DbResult<()> {
    sqlx::query("UPDATE csv_uploads SET applied_at = $1 WHERE id = $2")
        .bind(secs(now))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
