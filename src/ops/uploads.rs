//! Keeping an uploaded CSV file for a company between its preview and its application.

use super::{Caller, Error, OpResult, Ops};
use crate::db::scope::AuthorisedCompany;
use crate::db::uploads::{self, NewUpload, Purpose};
use crate::domain::{Action, UploadId};
use crate::imports::csv_table::{self, CsvTable, Encoding};

/// Checks that `bytes` is a CSV file the imports can read and keeps it; a file that is not is
/// refused with what is wrong and where (`Error::File`).
#[tracing::instrument(skip_all, fields(company = %company.id(), bytes = bytes.len()))]
pub async fn keep(
    ops: &Ops,
    caller: &Caller,
    company: &AuthorisedCompany,
    purpose: Purpose,
    file_name: &str,
    bytes: &[u8],
) -> OpResult<UploadId> {
    let now = ops.now();
    caller.require(Action::RunCompany, Some(company), now)?;
    let decoded = csv_table::decode(bytes).map_err(Error::File)?;
    csv_table::parse(&decoded.text).map_err(Error::File)?;
    let name: String = file_name.chars().take(200).collect();
    let upload = NewUpload {
        company: company.id(),
        purpose,
        file_name: &name,
        content: &decoded.text,
        encoding: decoded.encoding.as_str(),
        by: caller.user_id(),
    };
    Ok(uploads::store(&ops.db, &upload, now).await?)
}

/// A kept upload, read back as a table.
pub struct UploadedTable {
    pub file_name: String,
    /// How its bytes were read, which the preview says.
    pub encoding: Encoding,
    pub table: CsvTable,
}

/// Upload `id` of `company` for `purpose`, parsed; another company's upload is not found.
pub async fn table(
    ops: &Ops,
    company: &AuthorisedCompany,
    id: UploadId,
    purpose: Purpose,
) -> OpResult<UploadedTable> {
    let upload = uploads::get(&ops.db, company.id(), id, purpose).await?;
    // The file parsed when it was uploaded; one that no longer does was changed behind our back.
    let table = csv_table::parse(&upload.content).map_err(|e| Error::Internal(Box::new(e)))?;
    let encoding: Encoding = crate::db::parse_stored("csv_uploads.encoding", &upload.encoding)?;
    Ok(UploadedTable {
        file_name: upload.file_name,
        encoding,
        table,
    })
}
