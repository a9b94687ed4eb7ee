//! Import Users: upload a CSV file, map its columns, import the good rows and report the bad ones
//! by line.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::routing::get;
use serde::Deserialize;

use super::uploads::{self, UPLOAD_LIMIT};
use crate::db::uploads::Purpose;
use crate::domain::UploadId;
use crate::imports::csv_table::{Column, CsvTable};
use crate::imports::export::Bounded;
use crate::imports::users::{self as user_rows, RejectedRow, UserColumns};
use crate::ops::uploads as kept;
use crate::ops::users::{self as user_ops, ImportOutcome};
use crate::web::areas::CompanyArea;
use crate::web::layout::{Layout, PageResult, csv_download, render};
use crate::web::{AppState, BOTH, GET, Routes};

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .add(
            "/company/users/import",
            BOTH,
            get(import_form)
                .post(upload)
                .layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .add(
            "/company/users/import/{id}",
            BOTH,
            get(mapping_page).post(import),
        )
        .add(
            "/company/users/import/{id}/problems.csv",
            GET,
            get(problems),
        )
}

/// How many rows not imported the page lists; the download has them all.
const SHOWN_ROWS: usize = 50;

async fn import_form(area: CompanyArea) -> PageResult {
    uploads::form(&area, &uploads::USERS, None)
}

async fn upload(
    State(state): State<Arc<AppState>>,
    area: CompanyArea,
    multipart: Multipart,
) -> PageResult {
    uploads::upload(&state, &area, multipart, &uploads::USERS).await
}

#[derive(Template)]
#[template(path = "users_mapping.html")]
struct MappingPage {
    layout: Layout,
    id: UploadId,
    file_name: String,
    /// The file was not UTF-8 and was read as Windows-1252.
    windows_1252: bool,
    selects: Vec<ColumnSelect>,
    good: usize,
    bad: Bounded<RejectedRow>,
    /// The mapping, as the download's query string.
    mapping: String,
    outcome: Option<ImportOutcome>,
}

/// One dropdown of the mapping step: its field, label and options (value, text, selected).
struct ColumnSelect {
    field: &'static str,
    label: &'static str,
    options: Vec<(String, String, bool)>,
}

fn column_selects(headers: &[String], columns: UserColumns) -> Vec<ColumnSelect> {
    let options = |chosen: Option<usize>, optional: bool| {
        let none = optional.then(|| (String::new(), "None".to_owned(), chosen.is_none()));
        none.into_iter()
            .chain(headers.iter().enumerate().map(|(i, h)| {
                let text = if h.is_empty() {
                    format!("Column {}", i + 1)
                } else {
                    h.clone()
                };
                (i.to_string(), text, chosen == Some(i))
            }))
            .collect()
    };
    let select = |field, label, chosen: Option<Column>, optional| ColumnSelect {
        field,
        label,
        options: options(chosen.map(Column::index), optional),
    };
    vec![
        select("email", "Email column", Some(columns.email), false),
        select("first_name", "First name column", columns.first_name, true),
        select("last_name", "Last name column", columns.last_name, true),
        select("department", "Department column", columns.department, true),
    ]
}

#[derive(Deserialize, Default)]
struct MappingForm {
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    department: Option<String>,
}

impl MappingForm {
    /// `columns` as this form's query string.
    fn query(columns: UserColumns) -> String {
        let index = |c: Option<Column>| c.map_or(String::new(), |c| c.index().to_string());
        form_urlencoded::Serializer::new(String::new())
            .append_pair("email", &columns.email.index().to_string())
            .append_pair("first_name", &index(columns.first_name))
            .append_pair("last_name", &index(columns.last_name))
            .append_pair("department", &index(columns.department))
            .finish()
    }

    /// The chosen mapping, or the likely one for fields not chosen; "" means "none". A column
    /// that is not one of the file's falls back to the guess.
    fn columns(&self, table: &CsvTable) -> UserColumns {
        let guess = UserColumns::guess(table);
        let column = |raw: &str| raw.parse::<usize>().ok().and_then(|c| table.column(c).ok());
        let pick = |chosen: &Option<String>, guessed: Option<Column>| match chosen.as_deref() {
            None => guessed,
            Some("") => None,
            Some(raw) => column(raw),
        };
        UserColumns {
            email: self
                .email
                .as_deref()
                .and_then(column)
                .unwrap_or(guess.email),
            first_name: pick(&self.first_name, guess.first_name),
            last_name: pick(&self.last_name, guess.last_name),
            department: pick(&self.department, guess.department),
        }
    }
}

/// The mapping step for upload `id`; with `apply`, the import and its report. The page lists
/// the first rows not imported; the download has them all.
async fn mapping(
    state: &AppState,
    area: &CompanyArea,
    id: UploadId,
    form: MappingForm,
    apply: bool,
) -> PageResult {
    let (ops, caller, company) = (&state.ops, &area.caller, &area.company);
    let file = kept::table(ops, company, id, Purpose::Users).await?;
    let columns = form.columns(&file.table);
    let checked = user_rows::read(&file.table, columns);
    let outcome = if apply {
        let outcome = user_ops::import(ops, caller, company, &checked.good).await?;
        let rejected = checked.rejected(&file.table, columns, &outcome.rejected);
        kept::applied_import(ops, caller, company, id, &user_rows::report(rejected)).await?;
        Some(outcome)
    } else {
        None
    };
    let in_use = outcome.as_ref().map_or(&[][..], |o| &o.rejected[..]);
    render(MappingPage {
        layout: area.layout("Import Users", "/company/users"),
        id,
        selects: column_selects(file.table.headers(), columns),
        windows_1252: file.encoding == crate::imports::csv_table::Encoding::Windows1252,
        file_name: file.file_name,
        good: checked.good.len(),
        bad: Bounded::first(checked.rejected(&file.table, columns, in_use), SHOWN_ROWS),
        mapping: MappingForm::query(columns),
        outcome,
    })
}

/// Every row not imported, as CSV: after the import, its report; before, the rows the file
/// itself refuses with the chosen mapping.
async fn problems(
    State(state): State<Arc<AppState>>,
    area: CompanyArea,
    Path(id): Path<i64>,
    Query(form): Query<MappingForm>,
) -> PageResult {
    let id = UploadId(id);
    let (ops, company) = (&state.ops, &area.company);
    let body = match kept::report(ops, company, id, Purpose::Users).await? {
        Some(report) => report,
        None => {
            let file = kept::table(ops, company, id, Purpose::Users).await?;
            let columns = form.columns(&file.table);
            let checked = user_rows::read(&file.table, columns);
            user_rows::report(checked.rejected(&file.table, columns, &[]))
        }
    };
    Ok(csv_download(&format!("import-problems-{id}.csv"), body))
}

/// The column-mapping step: which column holds the email, names and department.
async fn mapping_page(
    State(state): State<Arc<AppState>>,
    area: CompanyArea,
    Path(id): Path<i64>,
    Query(form): Query<MappingForm>,
) -> PageResult {
    mapping(&state, &area, UploadId(id), form, false).await
}

/// Import: good rows become learners; bad rows are reported with their line and reason.
async fn import(
    State(state): State<Arc<AppState>>,
    area: CompanyArea,
    Path(id): Path<i64>,
    Form(form): Form<MappingForm>,
) -> PageResult {
    mapping(&state, &area, UploadId(id), form, true).await
}
