//! Cursor pagination, the same on every list: `?limit=N` (1 to [`MAX_LIMIT`], default
//! [`DEFAULT_LIMIT`]) and `?cursor=…` taken from the previous page's `next_cursor`. Cursors
//! are opaque to clients (hex of the last row's sort key); a cursor that does not decode is
//! 400 `invalid_cursor`.

use crate::server::Code;
use axum::Json;
use jiff::Timestamp;
use serde::Serialize;
use stepwise_engine::ports::TimeCursor;

use super::ApiError;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// One page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

/// The page size asked for, checked.
pub fn limit(asked: Option<u32>) -> Result<u32, ApiError> {
    match asked.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n),
        n => Err(ApiError::bad_request(format!(
            "limit {n} is out of range: ask for 1 to {MAX_LIMIT}"
        ))
        .with_code(Code::InvalidLimit)),
    }
}

fn bad_cursor() -> ApiError {
    ApiError::bad_request("the cursor is not one this API gave out").with_code(Code::InvalidCursor)
}

/// The text a cursor carries.
pub fn decode(cursor: &str) -> Result<String, ApiError> {
    if cursor.is_empty() {
        return Err(bad_cursor());
    }
    let bytes = hex::decode(cursor).map_err(|_| bad_cursor())?;
    // Every cursor this API gives out is printable text; anything else (a NUL, which no
    // database can compare) is refused before it reaches a query.
    String::from_utf8(bytes)
        .ok()
        .filter(|key| !key.chars().any(char::is_control))
        .ok_or_else(bad_cursor)
}

pub fn encode(key: &str) -> String {
    hex::encode(key)
}

/// A newest-first cursor: `micros:id`.
pub fn decode_time(cursor: &str) -> Result<TimeCursor, ApiError> {
    let text = decode(cursor)?;
    let (at, id) = text.split_once(':').ok_or_else(bad_cursor)?;
    let at = at
        .parse::<i64>()
        .ok()
        .and_then(|us| Timestamp::from_microsecond(us).ok())
        .ok_or_else(bad_cursor)?;
    Ok(TimeCursor {
        at,
        id: id.to_owned(),
    })
}

pub fn encode_time(at: Timestamp, id: &str) -> String {
    encode(&format!("{}:{id}", at.as_microsecond()))
}

/// Makes the page from up to `limit + 1` rows: the extra row only says another page exists.
pub fn page<T: Serialize>(
    mut rows: Vec<T>,
    limit: u32,
    cursor_of: impl Fn(&T) -> String,
) -> Json<Page<T>> {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(cursor_of)
    } else {
        None
    };
    Json(Page {
        data: rows,
        next_cursor,
    })
}

/// Like [`page`], converting each row to its answer form first.
pub fn page_map<R, T: Serialize>(
    rows: Vec<R>,
    limit: u32,
    cursor_of: impl Fn(&R) -> String,
    view: impl Fn(R) -> T,
) -> Json<Page<T>> {
    let more = rows.len() > limit as usize;
    let next_cursor = if more {
        rows.get(limit as usize - 1).map(&cursor_of)
    } else {
        None
    };
    let data = rows.into_iter().take(limit as usize).map(view).collect();
    Json(Page { data, next_cursor })
}
