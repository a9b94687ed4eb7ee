//! Receiving an uploaded CSV file from a multipart form, bounded while it streams, and keeping it
//! for the company (`ops::uploads`).

use askama::Template;
use axum::extract::Multipart;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};

use crate::db::uploads::Purpose;
use crate::domain::Action;
use crate::domain::UploadId;
use crate::imports::MAX_BYTES;
use crate::ops::{Conflict, Error, uploads};
use crate::web::areas::CompanyArea;
use crate::web::error::conflict;
use crate::web::layout::{Layout, PageResult, render_with};
use crate::web::{AppState, PageError};

/// What an upload page is for: its words, where it posts, and where the kept file goes next.
pub(super) struct UploadKind {
    purpose: Purpose,
    heading: &'static str,
    intro: &'static str,
    action: &'static str,
    cancel: &'static str,
    /// The section the page belongs to, for the navigation.
    section: &'static str,
    next: &'static str,
}

pub(super) const USERS: UploadKind = UploadKind {
    purpose: Purpose::Users,
    heading: "Import Users",
    intro: "Upload a CSV file with one user per row: email, and optionally first name, last name \
            and department (up to 20 MB). You map the columns next.",
    action: "/company/users/import",
    cancel: "/company/users",
    section: "/company/users",
    next: "/company/users/import/",
};

pub(super) const RENEWAL: UploadKind = UploadKind {
    purpose: Purpose::Renewal,
    heading: "Import Licence Renewal",
    intro: "Upload a CSV file with one learner per row (up to 20 MB). You choose the column that \
            holds the email next, and see what will happen before anything changes.",
    action: "/company/licenses/renewal",
    cancel: "/company/licenses?tab=expired",
    section: "/company/licenses",
    next: "/company/licenses/renewal/",
};

#[derive(Template)]
#[template(path = "csv_upload.html")]
struct UploadPage {
    layout: Layout,
    kind: &'static UploadKind,
    error: Option<String>,
}

/// The upload form, empty or with why the last file was refused (422).
pub(super) fn form(
    area: &CompanyArea,
    kind: &'static UploadKind,
    error: Option<String>,
) -> PageResult {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = UploadPage {
        layout: area.layout(kind.heading, kind.section),
        kind,
        error,
    };
    render_with(status, page)
}

/// Keeps the uploaded file and goes on to its next step, or shows the form with why not.
pub(super) async fn upload(
    state: &AppState,
    area: &CompanyArea,
    multipart: Multipart,
    kind: &'static UploadKind,
) -> PageResult {
    match keep(state, area, multipart, kind.purpose).await? {
        Upload::Kept(id) => Ok(Redirect::to(&format!("{}{id}", kind.next)).into_response()),
        Upload::Refused(error) => form(area, kind, Some(error)),
    }
}

/// The largest request an upload route reads: the 20 MB file limit plus room for the form.
pub(super) const UPLOAD_LIMIT: usize = MAX_BYTES + 64 * 1024;

/// What became of an upload.
enum Upload {
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

/// Reads the uploaded file and keeps it for the company, or says why it cannot. The permit for
/// heavy work comes first, so uploads beyond the limit wait (or are refused) before their
/// bytes are read.
async fn keep(
    state: &AppState,
    area: &CompanyArea,
    multipart: Multipart,
    purpose: Purpose,
) -> Result<Upload, PageError> {
    let (ops, caller, company) = (&state.ops, &area.caller, &area.company);
    caller.require(Action::RunCompany, Some(company), ops.now())?;
    let permit = ops.heavy.enter().await?;
    let (name, bytes) = match read_file(multipart).await {
        Ok(file) => file,
        Err(refused) => return Ok(Upload::Refused(refused)),
    };
    let received = uploads::Received {
        purpose,
        file_name: &name,
        bytes: &bytes,
        permit,
    };
    match uploads::keep(ops, caller, company, received).await {
        Ok(id) => Ok(Upload::Kept(id)),
        Err(Error::File(e)) => Ok(Upload::Refused(format!("File: {e}."))),
        Err(Error::Conflict(c @ Conflict::UploadQuota { .. })) => {
            Ok(Upload::Refused(format!("File: {}.", conflict(c))))
        }
        Err(e) => Err(e.into()),
    }
}
