//! Cursor pagination: `limit` (1 to 100) and an opaque `after` cursor that the previous page
//! gave as `next`. Lists read one page by an index; the cursor is the index key of the last row.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::problem::{ApiError, ApiResult, FieldProblem};

/// The query of a list that takes nothing but its page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many per page (1 to 100, default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next` of the previous page.
    #[param(max_length = 600)]
    pub after: Option<String>,
}

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

/// Where a page starts (`after`, decoded into the list's index key `K`) and how many items it
/// holds: what every list reads from its query before asking the operations.
pub fn ask<K: Serialize + DeserializeOwned>(
    limit: Option<u32>,
    after: Option<&str>,
) -> ApiResult<(Option<K>, u32)> {
    let after = after.map(Cursor::<K>::decode).transpose()?;
    Ok((after, self::limit(limit)?))
}

/// A storage page as the API answers it: its items, and the next page's opaque cursor.
pub fn answer<T, C, K: Serialize + DeserializeOwned, U>(
    page: crate::db::Page<T, C>,
    key: impl FnOnce(C) -> K,
    item: impl FnMut(T) -> U,
) -> (Vec<U>, Option<String>) {
    let next = page.next.map(|c| Cursor::encode(&key(c)));
    (page.items.into_iter().map(item).collect(), next)
}

/// Declares a page type of the API: `items` and the `next` cursor.
macro_rules! page_type {
    ($(#[$doc:meta])* $name:ident of $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            items: Vec<$item>,
            /// Pass as `after` for the next page; null on the last.
            #[schema(required = true)]
            next: Option<String>,
        }

        impl From<(Vec<$item>, Option<String>)> for $name {
            fn from((items, next): (Vec<$item>, Option<String>)) -> Self {
                Self { items, next }
            }
        }
    };
}
pub(crate) use page_type;

fn holds_control_characters(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => text.contains(char::is_control),
        serde_json::Value::Array(items) => items.iter().any(holds_control_characters),
        serde_json::Value::Object(fields) => fields.values().any(holds_control_characters),
        _ => false,
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
        let key: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| refused())?;
        // No row's key holds a control character; PostgreSQL would refuse a NUL in its text.
        if holds_control_characters(&key) {
            return Err(refused());
        }
        serde_json::from_value(key).map_err(|_| refused())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_its_key_and_refuses_what_no_key_holds() {
        let key = ("Acme Ltd".to_owned(), 7_i64);
        let cursor = Cursor::encode(&key);
        assert_eq!(Cursor::<(String, i64)>::decode(&cursor).ok(), Some(key));
        let nul = Cursor::encode(&("j\u{0}U".to_owned(), 7_i64));
        for refused in [nul.as_str(), "not base64!", "bnVsbA", &"A".repeat(601)] {
            assert!(
                Cursor::<(String, i64)>::decode(refused).is_err(),
                "{refused}"
            );
        }
    }
}
