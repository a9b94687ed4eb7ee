//! Cursor pagination: `limit` (1 to 100) and an opaque `after` cursor that the previous page
//! gave as `next`. Lists read one page by an index; the cursor is the index key of the last row.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::problem::{ApiError, ApiResult, FieldProblem};

/// The most items one page holds.
pub const MAX_LIMIT: u32 = 100;
/// Items per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: u32 = 50;

/// The page size asked for, within bounds.
pub fn limit(asked: Option<u32>) -> ApiResult<u32> {
    match asked {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::Malformed(vec![FieldProblem {
            field: "limit".into(),
            code: "out-of-range".into(),
            detail: format!("must be between 1 and {MAX_LIMIT}, not {n}"),
        }])),
    }
}

/// An opaque cursor holding the index key `T` of the last row of a page.
pub struct Cursor<T>(std::marker::PhantomData<T>);

impl<T: Serialize + DeserializeOwned> Cursor<T> {
    pub fn encode(key: &T) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
    }

    pub fn decode(raw: &str) -> ApiResult<T> {
        let refused = || {
            ApiError::Malformed(vec![FieldProblem {
                field: "after".into(),
                code: "invalid-cursor".into(),
                detail: "not a cursor this list gave as `next`".into(),
            }])
        };
        if raw.len() > 600 {
            return Err(refused());
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| refused())?;
        serde_json::from_slice(&bytes).map_err(|_| refused())
    }
}
