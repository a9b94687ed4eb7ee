//! Receiving an uploaded CSV file from a multipart form, bounded while it streams, and keeping it
//! for the company (`ops::uploads`).

use axum::extract::Multipart;

use crate::db::uploads::Purpose;
use crate::domain::UploadId;
use crate::imports::MAX_BYTES;
use crate::ops::{Error, uploads};
use crate::web::areas::CompanyArea;
use crate::web::{AppState, PageError};

/// The largest request an upload route reads: the 20 MB file limit plus room for the form.
pub(super) const UPLOAD_LIMIT: usize = MAX_BYTES + 64 * 1024;

/// What became of an upload.
pub(super) enum Upload {
    Kept(UploadId),
    /// Not a file the imports can read: what is wrong, for the upload page.
    Refused(String),
}

/// Reads the `file` part of an upload, refusing more than 20 MB without reading further.
async fn read_file(mut multipart: Multipart) -> Result<(String, Vec<u8>), String> {
    let unreadable =
        |e: axum::extract::multipart::MultipartError| format!("The upload could not be read: {e}.");
    while let Some(mut field) = multipart.next_field().await.map_err(unreadable)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("upload.csv").to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
            if bytes.len() + chunk.len() > MAX_BYTES {
                return Err(
                    "File: the file is larger than 20 MB; split it into smaller files.".into(),
                );
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok((name, bytes));
    }
    Err("File: choose a CSV file to upload.".into())
}

/// Reads the uploaded file and keeps it for the company, or says why it cannot.
pub(super) async fn keep(
    state: &AppState,
    area: &CompanyArea,
    multipart: Multipart,
    purpose: Purpose,
) -> Result<Upload, PageError> {
    let (name, bytes) = match read_file(multipart).await {
        Ok(file) => file,
        Err(refused) => return Ok(Upload::Refused(refused)),
    };
    let (ops, caller, company) = (&state.ops, &area.caller, &area.company);
    match uploads::keep(ops, caller, company, purpose, &name, &bytes).await {
        Ok(id) => Ok(Upload::Kept(id)),
        Err(Error::File(e)) => Ok(Upload::Refused(format!("File: {e}."))),
        Err(e) => Err(e.into()),
    }
}
