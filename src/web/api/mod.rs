//! The JSON API under `/api/v1` (DESIGN §9): thin handlers over the same operations as the
//! console. A key (`auth`) names the caller; input is read field by field (`input`); every
//! error is a problem+json body (`problem`). The OpenAPI document is generated from the
//! handlers that serve the routes, so it cannot drift.

mod access;
mod activity;
pub mod auth;
mod companies;
pub(crate) mod idempotency;
mod input;
mod licences;
mod orders;
mod pages;
pub mod problem;
mod users;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{self, ContentBuilder, Ref, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use problem::{ApiError, FieldProblem, PROBLEM_JSON, Problem};

pub use auth::RateLimit;

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "seatledger API",
        version = "1",
        description = "Companies, users, orders, batches, seats, renewals, activity, webhook \
            endpoints and the access check of a seatledger instance. Send an API key as `Authorization: Bearer KEY`. Errors are \
            RFC 9457 problem+json bodies with a stable `type` per cause."
    ),
    modifiers(&BearerKey),
    security(("api_key" = [])),
    components(schemas(Problem, FieldProblem)),
)]
struct ApiDoc;

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key created in the console or with `seatledger api-key create`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The errors every operation may answer, each a problem+json body.
const COMMON_ERRORS: &[(&str, &str)] = &[
    ("401", "No usable API key"),
    (
        "403",
        "The key lacks the permission, or its owner the right",
    ),
    ("413", "The request body is too large"),
    ("415", "The request body is not JSON"),
    (
        "422",
        "The request does not fit the operation: each wrong field is named",
    ),
    ("429", "Past the key's rate; see Retry-After"),
    ("500", "Something went wrong on our side"),
    ("503", "Busy; see Retry-After"),
];

/// Adds the common error responses to every operation, all pointing at `Problem`.
fn document_errors(doc: &mut openapi::OpenApi) {
    let problem = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build()
    };
    let idempotency_key = ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Any unique text (1 to 255 visible ASCII characters). The same key and request \
             within 24 hours get the stored response again; the same key with another request \
             is refused (422); while the first is answered, another gets 409.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(idempotency::MAX_KEY_LEN)),
        ))
        .build();
    for item in doc.paths.paths.values_mut() {
        if let Some(post) = item.post.as_mut() {
            post.parameters
                .get_or_insert_with(Vec::new)
                .push(idempotency_key.clone());
            post.responses
                .responses
                .entry("409".to_owned())
                .or_insert_with(|| {
                    problem("A conflict with the current state, or the same Idempotency-Key in progress")
                        .into()
                });
        }
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, description) in COMMON_ERRORS {
                operation
                    .responses
                    .responses
                    .entry((*status).to_owned())
                    .or_insert_with(|| problem(description).into());
            }
        }
    }
}

/// The API's routes and the document describing them.
pub(super) fn routes() -> (Router<Arc<AppState>>, openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(access::check))
        .routes(routes!(companies::list, companies::create))
        .routes(routes!(companies::get, companies::update))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::import))
        .routes(routes!(users::deactivate))
        .routes(routes!(users::get, users::delete))
        .routes(routes!(licences::batches))
        .routes(routes!(licences::allocate))
        .routes(routes!(licences::release))
        .routes(routes!(licences::renew))
        .routes(routes!(orders::list, orders::request))
        .routes(routes!(orders::list_sold))
        .routes(routes!(activity::list))
        .routes(routes!(orders::assign))
        .routes(routes!(orders::reject))
        .routes(routes!(orders::cancel))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::get, webhooks::delete))
        .routes(routes!(webhooks::disable))
        .routes(routes!(webhooks::enable))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::redeliver))
        .split_for_parts();
    document_errors(&mut doc);
    let router = router.layer(middleware::from_fn(method_not_allowed));
    (router, doc)
}

/// The document as served.
pub fn document() -> openapi::OpenApi {
    routes().1
}

/// axum answers a wrong method with an empty 405; the API answers with a problem.
async fn method_not_allowed(request: Request<Body>, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        let allow = response.headers().get(header::ALLOW).cloned();
        let mut problem = ApiError::MethodNotAllowed.into_response();
        if let Some(allow) = allow {
            problem.headers_mut().insert(header::ALLOW, allow);
        }
        return problem;
    }
    response
}

/// Any other path under `/api/`.
pub(super) async fn no_route() -> Response {
    ApiError::NoRoute.into_response()
}

/// `GET /api/v1/openapi.json`.
pub(super) fn serve_document(doc: &openapi::OpenApi) -> Response {
    let body = doc.to_json().unwrap_or_default();
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
