//! The company's Users section: the list with licence status, Add User, Deactivate and Delete;
//! Import Users is in `import`.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::db::people::{self, UserLine, UserSort};
use crate::domain::{Action, Department, Email, InvalidValue, PersonName, UserId};
use crate::format;
use crate::ops::users::{self as user_ops, NewPerson, Removal};
use crate::ops::{Error, Fields};
use crate::web::areas::CompanyArea;
use crate::web::error::form_errors;
use crate::web::layout::{Layout, PageResult, render, render_with};
use crate::web::pager::{Heading, PageParams, Pager};
use crate::web::{AppState, BOTH, GET, POST, Routes};

const PAGE: u32 = 50;

pub(super) fn routes(routes: Routes) -> Routes {
    let routes = routes
        .add("/company/users", BOTH, get(list).post(add))
        .add("/company/users/new", GET, get(new_form))
        .add("/company/users/{id}/deactivate", POST, post(deactivate))
        .add("/company/users/{id}/delete", POST, post(delete));
    super::import::routes(routes)
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<(UserLine, String)>,
    notice: Option<String>,
    headings: Vec<Heading>,
    pager: Pager,
}

#[derive(Deserialize, Default)]
struct UsersQuery {
    #[serde(flatten)]
    page: PageParams,
}

const HEADINGS: [(Option<UserSort>, &str, bool); 6] = [
    (Some(UserSort::Name), "Name", false),
    (Some(UserSort::Email), "Email", false),
    (None, "Department", false),
    (None, "Role", false),
    (None, "Licence", false),
    (None, "", false),
];

fn licence_text(user: &UserLine, time_zone: &str) -> String {
    if user.deactivated {
        "Deactivated".to_owned()
    } else if user.learner {
        format::licence(user.licence, time_zone)
    } else {
        "—".to_owned()
    }
}

async fn list(
    State(state): State<Arc<AppState>>,
    area: CompanyArea,
    Query(query): Query<UsersQuery>,
) -> PageResult {
    let company = &area.company;
    let listing = query
        .page
        .listing("/company/users", (UserSort::Added, false), Vec::new());
    let sort = (listing.sort, listing.descending);
    let (db, now) = (&state.ops.db, state.ops.now());
    let page = people::page(db, company, sort, &listing.seek, PAGE, now).await?;
    let total = people::count(db, company).await?;
    let notice = area.flash.clone();
    let pager = listing.pager(&page, PAGE, total);
    let users = page.rows.into_iter().map(|u| {
        let licence = licence_text(&u, &company.time_zone);
        (u, licence)
    });
    render(UsersPage {
        layout: area.layout("Users", "/company/users"),
        users: users.collect(),
        notice,
        headings: listing.headings(&HEADINGS),
        pager,
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
struct UserForm {
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

const USER_LABELS: &[(&str, &str)] = &[
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("email", "Email"),
    ("department", "Department"),
    ("role", "Role"),
];

impl UserForm {
    fn parse(&self) -> Result<NewPerson, Error> {
        let mut fields = Fields::default();
        let email = fields.take("email", Email::parse(&self.email));
        let first_name = fields.take("first_name", PersonName::parse(&self.first_name));
        let last_name = fields.take("last_name", PersonName::parse(&self.last_name));
        let department = fields.take("department", Department::parse(&self.department));
        let role = match self.role.as_str() {
            "learner" => Ok((false, true)),
            "manager" => Ok((true, false)),
            "both" => Ok((true, true)),
            other => Err(InvalidValue::NotOneOf {
                got: other.chars().take(40).collect(),
                allowed: "learner, manager, both",
            }),
        };
        let role = fields.take("role", role);
        fields.finish(|| {
            let (manager, learner) = role?;
            let department = department?;
            Some(NewPerson {
                email: email?,
                first_name: first_name?,
                last_name: last_name?,
                department: Some(department).filter(|d| !d.as_str().is_empty()),
                manager,
                learner,
            })
        })
    }
}

async fn new_form(area: CompanyArea) -> PageResult {
    render(UserFormPage {
        layout: area.layout("Add User", "/company/users"),
        form: UserForm {
            role: "learner".into(),
            ..UserForm::default()
        },
        errors: Vec::new(),
    })
}

async fn add(
    State(state): State<Arc<AppState>>,
    area: CompanyArea,
    Form(form): Form<UserForm>,
) -> PageResult {
    // Rights before the form: a manager of a Managed company hears why, not what to fix.
    let (caller, company) = (&area.caller, &area.company);
    caller.require(Action::RunCompany, Some(company), state.ops.now())?;
    let outcome = async {
        let person = form.parse()?;
        user_ops::add(&state.ops, &area.caller, &area.company, &person).await?;
        Ok::<_, Error>(person.email)
    };
    let errors = match outcome.await {
        Ok(email) => {
            let notice = format!("{email} was added and sent a welcome email to set a password.");
            return area
                .redirect_with_notice(&state, "/company/users", &notice)
                .await;
        }
        Err(e) => form_errors(e, USER_LABELS)?,
    };
    let page = UserFormPage {
        layout: area.layout("Add User", "/company/users"),
        form,
        errors,
    };
    render_with(StatusCode::UNPROCESSABLE_ENTITY, page)
}

/// Deactivate: the seat returns to its batch; the user and their history stay.
async fn deactivate(
    State(state): State<Arc<AppState>>,
    area: CompanyArea,
    Path(id): Path<i64>,
) -> PageResult {
    let removal = Removal::Deactivate;
    user_ops::remove(&state.ops, &area.caller, &area.company, UserId(id), removal).await?;
    let notice = "The user was deactivated and their licence returned.";
    area.redirect_with_notice(&state, "/company/users", notice)
        .await
}

/// Delete: the seat returns to its batch; the user goes, the ledger keeps its events.
async fn delete(
    State(state): State<Arc<AppState>>,
    area: CompanyArea,
    Path(id): Path<i64>,
) -> PageResult {
    let removal = Removal::Delete;
    user_ops::remove(&state.ops, &area.caller, &area.company, UserId(id), removal).await?;
    let notice = "The user was deleted and their licence returned.";
    area.redirect_with_notice(&state, "/company/users", notice)
        .await
}
