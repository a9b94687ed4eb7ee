//! Keeping an uploaded CSV file for a company between its preview and its application. The file
//! is parsed once, at upload, and kept in the table's compact stored form; previews read that
//! back instead of parsing again. A company keeps at most `QUOTA_BYTES` of uploads, each for at
//! most `KEPT_FOR` (the expiry pass deletes what is due).

use jiff::{SignedDuration, Timestamp};
use tokio::sync::OwnedSemaphorePermit;

use super::{Caller, Conflict, Error, OpResult, Ops};
use crate::db::scope::AuthorisedCompany;
use crate::db::uploads::{self, NewUpload, Purpose};
use crate::domain::{Action, UploadId};
use crate::imports::csv_table::{self, CsvTable, Encoding};

/// How long an upload is kept: a day to preview and apply it.
pub const KEPT_FOR: SignedDuration = SignedDuration::from_hours(24);

/// The most bytes of uploads a company keeps at once: five files at the 20 MB limit.
pub const QUOTA_BYTES: u64 = 5 * csv_table::MAX_BYTES as u64;

/// A file as received, read under a permit for heavy work.
pub struct Received<'a> {
    pub purpose: Purpose,
    pub file_name: &'a str,
    pub bytes: &'a [u8],
    pub permit: OwnedSemaphorePermit,
}

/// Checks that `bytes` is a CSV file the imports can read and keeps it parsed; a file that is
/// not is refused with what is wrong and where (`Error::File`), one beyond the company's quota
/// with `Conflict::UploadQuota`. The edge takes the permit (`ops.heavy.enter()`) before it
/// reads the file, so waiting uploads hold no memory.
#[tracing::instrument(skip_all, fields(company = %company.id(), bytes = upload.bytes.len()))]
pub async fn keep(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    upload: Received<'_>,
) -> OpResult<UploadId> {
    let now = ops.now();
    caller.require(Action::RunCompany, Some(company), now)?;
    let Received {
        purpose,
        file_name,
        bytes,
        permit: _permit,
    } = upload;
    let decoded = csv_table::decode(bytes).map_err(Error::File)?;
    let parsed = csv_table::parse(&decoded.text)
        .map_err(Error::File)?
        .to_bytes();
    let name: String = file_name.chars().take(200).collect();
    let upload = NewUpload {
        company: company.id(),
        purpose,
        file_name: &name,
        parsed: &parsed,
        encoding: decoded.encoding.as_str(),
        by: caller.user_id(),
    };
    uploads::store(&ops.db, &upload, QUOTA_BYTES, now)
        .await?
        .ok_or(Error::Conflict(Conflict::UploadQuota {
            limit: QUOTA_BYTES,
        }))
}

/// A kept upload, read back as a table, with the permit for the heavy work done with it.
pub struct UploadedTable {
    pub file_name: String,
    /// How its bytes were read, which the preview says.
    pub encoding: Encoding,
    pub table: CsvTable,
    pub permit: OwnedSemaphorePermit,
}

/// Upload `id` of `company` for `purpose`, as parsed at upload; another company's upload, or
/// one already applied, is not found. Waits for a permit for heavy work first.
pub async fn table(
    ops: &Ops,
    company: &AuthorisedCompany,
    id: UploadId,
    purpose: Purpose,
) -> OpResult<UploadedTable> {
    let permit = ops.heavy.enter().await?;
    let upload = uploads::get(&ops.db, company.id(), id, purpose).await?;
    let parsed = upload.parsed.ok_or(Error::NotFound)?;
    // Only `keep` writes it; one that does not read back was changed behind our back.
    let table = CsvTable::from_bytes(&parsed).map_err(|e| Error::Internal(Box::new(e)))?;
    let encoding: Encoding = crate::db::parse_stored("csv_uploads.encoding", &upload.encoding)?;
    Ok(UploadedTable {
        file_name: upload.file_name,
        encoding,
        table,
        permit,
    })
}

/// The report of the rows an applied import did not import (CSV), if it was applied.
pub async fn report(
    ops: &Ops,
    company: &AuthorisedCompany,
    id: UploadId,
    purpose: Purpose,
) -> OpResult<Option<Vec<u8>>> {
    Ok(uploads::get(&ops.db, company.id(), id, purpose)
        .await?
        .report)
}

/// Deletes every upload kept longer than `KEPT_FOR` at `now`, a bounded batch at a time;
/// returns how many went.
pub async fn delete_expired(ops: &Ops, now: Timestamp) -> OpResult<u64> {
    const BATCH: u32 = 100;
    let before = now - KEPT_FOR;
    let mut deleted = 0;
    loop {
        let done = uploads::delete_created_before(&ops.db, before, BATCH).await?;
        deleted += done;
        if done < u64::from(BATCH) {
            return Ok(deleted);
        }
    }
}

/// An import was applied: its file goes, and `report` (the rows not imported) stays for
/// download until the upload's day is over.
pub async fn applied_import(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    id: UploadId,
    report: &[u8],
) -> OpResult<()> {
    let now = ops.now();
    caller.require(Action::RunCompany, Some(company), now)?;
    uploads::get(&ops.db, company.id(), id, Purpose::Users).await?;
    Ok(uploads::replace_with_report(&ops.db, id, report, now).await?)
}
