//! API keys in the console: a page of the operator's console (instance keys), of a partner's
//! Admin Dashboard (partner keys) and of a company's dashboard (company keys), served by one set
//! of handlers at each area's prefix. Keys are listed with their prefix, created (the key shown
//! once) and revoked.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use serde::Deserialize;

use super::areas::{CompanyArea, OperatorArea, PartnerArea, SignedIn};
use super::error::form_errors;
use super::layout::{Layout, PageResult, render, render_with};
use super::webhooks::when;
use super::{AppState, BOTH, POST, PageError, Routes};
use crate::db::api_keys::ApiKey;
use crate::domain::api_keys::{Permission, Permissions, parse_expiry, usable};
use crate::domain::{ApiKeyId, KeyName};
use crate::ops::Fields;
use crate::ops::api_keys::{self as key_ops, NewApiKey};

/// An area whose owner manages API keys, and where its key pages live.
pub(super) trait KeyArea:
    FromRequestParts<Arc<AppState>, Rejection = PageError> + std::ops::Deref<Target = SignedIn>
{
    const BASE: &'static str;
}

impl KeyArea for OperatorArea {
    const BASE: &'static str = "/operator/api-keys";
}

impl KeyArea for PartnerArea {
    const BASE: &'static str = "/partner/api-keys";
}

impl KeyArea for CompanyArea {
    const BASE: &'static str = "/company/api-keys";
}

macro_rules! key_routes {
    ($routes:expr, $area:ty, $base:literal) => {
        $routes
            .add($base, BOTH, get(list::<$area>).post(create::<$area>))
            .add(concat!($base, "/{id}/revoke"), POST, post(revoke::<$area>))
    };
}

pub(super) fn routes(routes: Routes) -> Routes {
    let routes = key_routes!(routes, OperatorArea, "/operator/api-keys");
    let routes = key_routes!(routes, PartnerArea, "/partner/api-keys");
    key_routes!(routes, CompanyArea, "/company/api-keys")
}

/// What each permission allows, as the form offers it.
fn meaning(permission: Permission) -> &'static str {
    match permission {
        Permission::AccessCheck => {
            "ask whether a user may sign in now (POST /api/v1/access-checks)"
        }
        Permission::Read => "read companies, users, orders, batches and activity",
        Permission::Write => "create and change them",
    }
}

struct KeyLine {
    id: ApiKeyId,
    prefix: String,
    name: String,
    permissions: String,
    expires: String,
    last_used: String,
    created: String,
    state: String,
    revocable: bool,
}

impl KeyLine {
    fn new(key: &ApiKey, now: jiff::Timestamp) -> Self {
        let state = match (key.revoked_at, key.expires_at) {
            (Some(at), _) => format!("Revoked on {}", when(at)),
            (None, Some(at)) if at <= now => format!("Expired on {}", when(at)),
            _ => "Active".to_owned(),
        };
        Self {
            id: key.id,
            prefix: key.prefix.clone(),
            name: key.name.to_string(),
            permissions: key.permissions.to_string().replace(',', ", "),
            expires: key.expires_at.map_or("Never".to_owned(), when),
            last_used: key.last_used_at.map_or("Never".to_owned(), when),
            created: when(key.created_at),
            state,
            revocable: usable(key.expires_at, key.revoked_at.is_some(), now),
        }
    }
}

#[derive(Template)]
#[template(path = "api_keys.html")]
struct KeysPage {
    layout: Layout,
    base: &'static str,
    keys: Vec<KeyLine>,
    /// Each permission, its meaning, and whether it is ticked.
    permissions: Vec<(&'static str, &'static str, bool)>,
    name: String,
    expires: String,
    errors: Vec<String>,
    revoked: Option<String>,
    /// The key just created, shown this once.
    created: Option<String>,
}

#[derive(Deserialize)]
struct ListQuery {
    revoked: Option<String>,
}

async fn page<A: KeyArea>(
    state: &AppState,
    area: &A,
    ticked: &[String],
) -> Result<KeysPage, PageError> {
    let now = state.ops.now();
    let keys = key_ops::list(&state.ops, &area.caller).await?;
    Ok(KeysPage {
        layout: area.layout("API Keys", A::BASE),
        base: A::BASE,
        keys: keys.iter().map(|k| KeyLine::new(k, now)).collect(),
        permissions: Permission::ALL
            .iter()
            .map(|&p| {
                (
                    p.as_str(),
                    meaning(p),
                    ticked.iter().any(|t| t == p.as_str()),
                )
            })
            .collect(),
        name: String::new(),
        expires: String::new(),
        errors: Vec::new(),
        revoked: None,
        created: None,
    })
}

async fn list<A: KeyArea>(
    State(state): State<Arc<AppState>>,
    area: A,
    Query(query): Query<ListQuery>,
) -> PageResult {
    let mut page = page(&state, &area, &[]).await?;
    page.revoked = query
        .revoked
        .filter(|p| p.len() <= 20 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    render(page)
}

/// The Create API Key form: a name, the ticked permissions (a repeated field), an expiry.
fn parse_form(body: &[u8]) -> (String, Vec<String>, String) {
    let mut name = String::new();
    let mut permissions = Vec::new();
    let mut expires = String::new();
    for (key, value) in form_urlencoded::parse(body) {
        match key.as_ref() {
            "name" => name = value.into_owned(),
            "permissions" if permissions.len() < 2 * Permission::ALL.len() => {
                permissions.push(value.into_owned())
            }
            "expires" => expires = value.into_owned(),
            _ => {}
        }
    }
    (name, permissions, expires)
}

const LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("permissions", "Permissions"),
    ("expires", "Expires"),
];

async fn create<A: KeyArea>(
    State(state): State<Arc<AppState>>,
    area: A,
    body: Bytes,
) -> PageResult {
    key_ops::changing_owner(&state.ops, &area.caller).await?;
    let (name, permissions, expires) = parse_form(&body);
    let outcome = async {
        let mut fields = Fields::default();
        let parsed_name = fields.take("name", KeyName::parse(&name));
        let parsed_permissions = fields.take(
            "permissions",
            Permissions::parse(permissions.iter().map(String::as_str)),
        );
        let expires_at = fields.take("expires", parse_expiry(&expires));
        let new = fields.finish(|| {
            Some(NewApiKey {
                name: parsed_name?,
                permissions: parsed_permissions?,
                expires_at: expires_at?,
            })
        })?;
        key_ops::create(&state.ops, &area.caller, &new).await
    };
    match outcome.await {
        Ok(created) => {
            let mut page = page(&state, &area, &[]).await?;
            page.created = Some(created.key);
            render_with(StatusCode::CREATED, page)
        }
        Err(e) => {
            let errors = form_errors(e, LABELS)?;
            let mut page = page(&state, &area, &permissions).await?;
            page.name = name;
            page.expires = expires;
            page.errors = errors;
            render_with(StatusCode::UNPROCESSABLE_ENTITY, page)
        }
    }
}

async fn revoke<A: KeyArea>(
    State(state): State<Arc<AppState>>,
    area: A,
    Path(id): Path<i64>,
) -> PageResult {
    let key = key_ops::revoke(&state.ops, &area.caller, ApiKeyId(id)).await?;
    Ok(Redirect::to(&format!("{}?revoked={}", A::BASE, key.prefix)).into_response())
}
