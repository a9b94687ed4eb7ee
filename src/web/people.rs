//! The company's Users section: the list with licence status, Add User, Import Users (upload,
//! column mapping, report), Deactivate and Delete.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;

use super::layout::{Layout, PageResult, render};
use super::licences::keep_upload;
use super::session::{Area, CsrfToken, SignedIn};
use super::{AppState, PageError};
use crate::db::people::{self, ImportOutcome, NewPerson, UserLine};
use crate::db::uploads;
use crate::domain::{Email, UserId};
use crate::format;
use crate::imports::users::{self as user_rows, RejectedRow, UserColumns};
use crate::imports::{Column, CsvTable, csv_table};

const PAGE: u32 = 50;

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<(UserLine, String)>,
    notice: Option<String>,
    next: Option<String>,
}

#[derive(Deserialize, Default)]
pub(super) struct UsersQuery {
    after: Option<i64>,
    added: Option<String>,
    done: Option<String>,
}

pub(super) async fn users(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Query(query): Query<UsersQuery>,
) -> PageResult {
    who.enter(Area::Company)?;
    let company = who.company()?;
    let page = people::list(
        &state.db,
        &who.scope(),
        company.id,
        query.after.map(UserId),
        PAGE,
        state.clock.now(),
    )
    .await?;
    let notice = match (query.added, query.done) {
        (Some(email), _) => Some(format!(
            "{email} was added and sent a welcome email to set a password."
        )),
        (_, Some(done)) => Some(done),
        _ => None,
    };
    render(UsersPage {
        layout: Layout::signed_in("Users", &csrf, &who, "/company/users"),
        users: page
            .items
            .into_iter()
            .map(|u| {
                let licence = if u.deactivated {
                    "Deactivated".to_owned()
                } else if u.learner {
                    format::licence(u.licence, &company.time_zone)
                } else {
                    "—".to_owned()
                };
                (u, licence)
            })
            .collect(),
        notice,
        next: page.next.map(|u| format!("/company/users?after={u}")),
    })
}

#[derive(Template)]
#[template(path = "user_form.html")]
struct UserFormPage {
    layout: Layout,
    form: UserForm,
    errors: Vec<String>,
}

#[derive(Deserialize, Default)]
pub(super) struct UserForm {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    role: String,
}

pub(super) async fn new_user_form(who: SignedIn, csrf: CsrfToken) -> PageResult {
    who.enter(Area::Company)?;
    render(UserFormPage {
        layout: Layout::signed_in("Add User", &csrf, &who, "/company/users"),
        form: UserForm {
            role: "learner".into(),
            ..UserForm::default()
        },
        errors: Vec::new(),
    })
}

pub(super) async fn add_user(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Form(form): Form<UserForm>,
) -> PageResult {
    who.enter(Area::Company)?;
    let company = who.company()?;
    let mut errors = Vec::new();
    let email = Email::parse(&form.email)
        .map_err(|e| errors.push(format!("Email: {e}.")))
        .ok();
    let (manager, learner) = match form.role.as_str() {
        "learner" => (false, true),
        "manager" => (true, false),
        "both" => (true, true),
        _ => {
            errors.push("Role: choose learner, manager, or both.".into());
            (false, false)
        }
    };
    for (field, value) in [
        ("First name", &form.first_name),
        ("Last name", &form.last_name),
        ("Department", &form.department),
    ] {
        if value.chars().count() > 200 {
            errors.push(format!("{field}: at most 200 characters."));
        }
    }
    let refuse = |errors: Vec<String>, form: UserForm| -> PageResult {
        let page = UserFormPage {
            layout: Layout::signed_in("Add User", &csrf, &who, "/company/users"),
            form,
            errors,
        };
        Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response())
    };
    let Some(email) = email.filter(|_| errors.is_empty()) else {
        return refuse(errors, form);
    };
    let person = NewPerson {
        email: &email,
        first_name: form.first_name.trim(),
        last_name: form.last_name.trim(),
        department: Some(form.department.trim()).filter(|d| !d.is_empty()),
        manager,
        learner,
    };
    match people::add(
        &state.db,
        &who.scope(),
        company.id,
        &person,
        who.actor(),
        &state.config.public_url,
        state.clock.now(),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!(
            "/company/users?added={}",
            form_urlencoded::byte_serialize(email.as_str().as_bytes()).collect::<String>()
        ))
        .into_response()),
        Err(crate::db::DbError::Conflict(message)) => {
            refuse(vec![format!("Email: {message}.")], form)
        }
        Err(e) => Err(e.into()),
    }
}

/// Deactivate: the seat returns to its batch; the user and their history stay.
pub(super) async fn deactivate(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
) -> PageResult {
    who.enter(Area::Company)?;
    let company = who.company()?;
    people::deactivate(
        &state.db,
        &who.scope(),
        company.id,
        UserId(id),
        who.actor(),
        state.clock.now(),
    )
    .await?;
    Ok(
        Redirect::to("/company/users?done=The+user+was+deactivated+and+their+licence+returned.")
            .into_response(),
    )
}

/// Delete: the seat returns to its batch; the user goes, the ledger keeps its events.
pub(super) async fn delete(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    Path(id): Path<i64>,
) -> PageResult {
    who.enter(Area::Company)?;
    let company = who.company()?;
    if id == who.user.id.0 {
        return Err(PageError::Forbidden("You cannot delete yourself.".into()));
    }
    people::delete(
        &state.db,
        &who.scope(),
        company.id,
        UserId(id),
        who.actor(),
        state.clock.now(),
    )
    .await?;
    Ok(
        Redirect::to("/company/users?done=The+user+was+deleted+and+their+licence+returned.")
            .into_response(),
    )
}

#[derive(Template)]
#[template(path = "users_import.html")]
struct ImportUploadPage {
    layout: Layout,
    error: Option<String>,
}

pub(super) async fn import_form(who: SignedIn, csrf: CsrfToken) -> PageResult {
    who.enter(Area::Company)?;
    render(ImportUploadPage {
        layout: Layout::signed_in("Import Users", &csrf, &who, "/company/users"),
        error: None,
    })
}

pub(super) async fn upload_users(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    multipart: Multipart,
) -> PageResult {
    who.enter(Area::Company)?;
    match keep_upload(&state, &who, multipart, "users").await? {
        Ok(id) => Ok(Redirect::to(&format!("/company/users/import/{id}")).into_response()),
        Err(error) => {
            let page = ImportUploadPage {
                layout: Layout::signed_in("Import Users", &csrf, &who, "/company/users"),
                error: Some(error),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response())
        }
    }
}

#[derive(Template)]
#[template(path = "users_mapping.html")]
struct MappingPage {
    layout: Layout,
    id: i64,
    file_name: String,
    selects: Vec<ColumnSelect>,
    good: usize,
    bad: Vec<RejectedRow>,
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
    vec![
        ColumnSelect {
            field: "email",
            label: "Email column",
            options: options(Some(columns.email.index()), false),
        },
        ColumnSelect {
            field: "first_name",
            label: "First name column",
            options: options(columns.first_name.map(Column::index), true),
        },
        ColumnSelect {
            field: "last_name",
            label: "Last name column",
            options: options(columns.last_name.map(Column::index), true),
        },
        ColumnSelect {
            field: "department",
            label: "Department column",
            options: options(columns.department.map(Column::index), true),
        },
    ]
}

#[derive(Deserialize, Default)]
pub(super) struct MappingForm {
    email: Option<usize>,
    first_name: Option<String>,
    last_name: Option<String>,
    department: Option<String>,
}

impl MappingForm {
    /// The chosen mapping, or the likely one for fields not chosen; "" means "none".
    fn columns(&self, table: &CsvTable) -> UserColumns {
        let guess = UserColumns::guess(table);
        let pick = |chosen: &Option<String>, guessed: Option<Column>| match chosen.as_deref() {
            None => guessed,
            Some("") => None,
            Some(raw) => raw.parse().ok().and_then(|c| table.column(c).ok()),
        };
        UserColumns {
            email: self
                .email
                .and_then(|c| table.column(c).ok())
                .unwrap_or(guess.email),
            first_name: pick(&self.first_name, guess.first_name),
            last_name: pick(&self.last_name, guess.last_name),
            department: pick(&self.department, guess.department),
        }
    }
}

async fn mapping(
    state: &AppState,
    who: &SignedIn,
    csrf: &CsrfToken,
    id: i64,
    form: MappingForm,
    apply: bool,
) -> PageResult {
    let company = who.company()?;
    crate::db::companies::facts(&state.db, &who.scope(), company.id).await?;
    let upload = uploads::get(&state.db, company.id, id, "users").await?;
    let table = csv_table::parse(&upload.content)
        .map_err(|e| PageError::Conflict(format!("File: {e}.")))?;
    let columns = form.columns(&table);
    let (good, mut bad) = user_rows::read(&table, columns);
    let outcome = if apply {
        let mut outcome = people::import(
            &state.db,
            &who.scope(),
            company.id,
            &good,
            who.actor(),
            &state.config.public_url,
            state.clock.now(),
        )
        .await?;
        bad.append(&mut outcome.rejected);
        bad.sort_by_key(|r| r.line);
        Some(outcome)
    } else {
        None
    };
    render(MappingPage {
        layout: Layout::signed_in("Import Users", csrf, who, "/company/users"),
        id,
        file_name: upload.file_name,
        selects: column_selects(table.headers(), columns),
        good: good.len(),
        bad,
        outcome,
    })
}

/// The column-mapping step: which column holds the email, names and department.
pub(super) async fn import_mapping(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Path(id): Path<i64>,
    Query(form): Query<MappingForm>,
) -> PageResult {
    who.enter(Area::Company)?;
    mapping(&state, &who, &csrf, id, form, false).await
}

/// Import: good rows become learners; bad rows are reported with their line and reason.
pub(super) async fn import_users(
    State(state): State<Arc<AppState>>,
    who: SignedIn,
    csrf: CsrfToken,
    Path(id): Path<i64>,
    Form(form): Form<MappingForm>,
) -> PageResult {
    who.enter(Area::Company)?;
    mapping(&state, &who, &csrf, id, form, true).await
}
