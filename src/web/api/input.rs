//! Reading the API's input: JSON bodies within a size limit, refused field by field (an unknown
//! field or a wrong type names its path).

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::problem::{ApiError, FieldProblem};

/// The most a request body may hold.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A JSON body parsed into `T`: at most `BODY_LIMIT` bytes, `application/json`, every field
/// known and of its type.
pub struct ApiJson<T>(pub T);

/// The raw body, bounded, for the idempotency record.
pub(super) async fn bounded_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| ApiError::TooLarge { limit: BODY_LIMIT })
}

pub(super) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let value = parsed.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        let code = if message.starts_with("unknown field") {
            "unknown-field"
        } else if message.starts_with("missing field") {
            "required"
        } else if message.starts_with("invalid type") || message.starts_with("invalid value") {
            "wrong-type"
        } else if inner.is_syntax() || inner.is_eof() {
            "not-json"
        } else {
            "invalid"
        };
        // serde names the missing field in its message; the path stops at its parent.
        let field = match (code, message.split('`').nth(1)) {
            ("required", Some(name)) if path == "." => name.to_owned(),
            ("required", Some(name)) => format!("{path}.{name}"),
            _ if path == "." => "body".to_owned(),
            _ => path,
        };
        ApiError::Malformed(vec![FieldProblem {
            field,
            code: code.to_owned(),
            detail: message,
        }])
    })?;
    de.end().map_err(|e| {
        ApiError::Malformed(vec![FieldProblem {
            field: "body".into(),
            code: "not-json".into(),
            detail: e.to_string(),
        }])
    })?;
    Ok(value)
}

fn is_json(parts: &Parts) -> bool {
    parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            let v = v.trim();
            v.eq_ignore_ascii_case("application/json") || v.ends_with("+json")
        })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        if !is_json(&parts) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = bounded_body(body).await?;
        parse_json(&bytes).map(ApiJson)
    }
}
/// A query string parsed into `T`, each wrong parameter named.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let field = e.path().to_string();
                let detail = e.into_inner().to_string();
                let field = if field == "." {
                    detail.split('`').nth(1).unwrap_or("query").to_owned()
                } else {
                    field
                };
                ApiError::Malformed(vec![FieldProblem {
                    field,
                    code: "invalid-parameter".into(),
                    detail,
                }])
            })
    }
}
