//! Request extractors that answer bad input in the one error shape: JSON bodies (415 for
//! another content type, 400 for malformed JSON, 422 for unknown fields and wrong types, 413
//! over the body limit), flow sources (YAML or JSON by content type), query strings and paths.

use crate::server::Code;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::ApiError;

/// The media type of a request, lowercased, without parameters.
fn media_type(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn unsupported(got: &str, want: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Code::UnsupportedMediaType,
        format!("send Content-Type: {want} (got {got:?})"),
    )
}

/// Parses a JSON body, telling malformed JSON (400) from well-formed JSON that does not
/// fit (422), with the line and column of the problem.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Cheap scan first; only a body that may hold a NUL is read twice.
    let may_hold_nul = bytes.contains(&0) || bytes.windows(6).any(|w| w == b"\\u0000");
    if may_hold_nul
        && serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|v| holds_nul(&v))
    {
        return Err(nul_refused());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let details = json!({ "line": e.line(), "column": e.column() });
        // A type's own deserialiser may report a value of the wrong shape as a syntax error
        // (a struct read from an array): well-formed JSON is never "malformed".
        let well_formed =
            e.is_data() || serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok();
        let error = if well_formed {
            ApiError::invalid(Code::InvalidBody, e.to_string())
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, Code::MalformedJson, e.to_string())
        };
        error.with_details(details)
    })
}

/// Whether any string (or key) in `value` holds the NUL character, which neither database
/// can store: refused up front as bad input rather than failing as an outage.
fn holds_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

fn nul_refused() -> ApiError {
    ApiError::invalid(
        Code::InvalidBody,
        "text may not contain the NUL character (\\u0000)",
    )
}

/// A NUL in a path or query (`%00`) is refused the same way.
fn refuse_nul_in_uri(uri: &axum::http::Uri) -> Result<(), ApiError> {
    let encoded = |s: &str| s.to_ascii_lowercase().contains("%00");
    if encoded(uri.path()) || uri.query().is_some_and(encoded) {
        return Err(ApiError::invalid(
            Code::InvalidInput,
            "the path or query may not contain the NUL character (%00)",
        ));
    }
    Ok(())
}

/// A JSON request body.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let mime = media_type(req.headers());
        if mime != "application/json" {
            return Err(unsupported(&mime, "application/json"));
        }
        let bytes = Bytes::from_request(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// An optional JSON request body: none at all is `T::default()`; one that is sent must be
/// JSON, as for [`ApiJson`].
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let mime = media_type(req.headers());
        let bytes = Bytes::from_request(req, state).await?;
        if bytes.is_empty() {
            return Ok(OptionalJson(T::default()));
        }
        if mime != "application/json" {
            return Err(unsupported(&mime, "application/json"));
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

/// A flow's source as sent: YAML (`application/yaml`, `application/x-yaml`, `text/yaml`) or
/// JSON (`application/json`, which YAML reads as well). The validator reports its problems
/// with line and column in this text. With its config values, the body is JSON:
/// `{"flow": "<the YAML>" or {the flow}, "config": {...}}`.
#[derive(Debug)]
pub struct FlowSource {
    /// The flow's YAML (or JSON) as written.
    pub source: String,
    /// The values of its `config.*`, sent beside it as `{"flow": …, "config": {…}}`.
    pub config: serde_json::Value,
}

impl<S: Send + Sync> FromRequest<S> for FlowSource {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let mime = media_type(req.headers());
        let known = [
            "application/yaml",
            "application/x-yaml",
            "text/yaml",
            "application/json",
        ];
        if !known.contains(&mime.as_str()) {
            return Err(unsupported(&mime, "application/yaml or application/json"));
        }
        let bytes = Bytes::from_request(req, state).await?;
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                Code::InvalidEncoding,
                "the body is not UTF-8",
            )
        })?;
        if text.contains('\0') {
            return Err(nul_refused());
        }
        if mime != "application/json" {
            return Ok(FlowSource {
                source: text,
                config: serde_json::json!({}),
            });
        }
        // Reject malformed JSON as JSON, before YAML reads it more leniently.
        let value: serde_json::Value = parse_json(text.as_bytes())?;
        if value.get("flow").is_none() {
            return Ok(FlowSource {
                source: text,
                config: serde_json::json!({}),
            });
        }
        // `{"flow": <YAML text or the flow as JSON>, "config": {...}}`.
        let wrapped: WrappedFlow = parse_json(text.as_bytes())?;
        let source = match wrapped.flow {
            serde_json::Value::String(yaml) => yaml,
            flow @ serde_json::Value::Object(_) => flow.to_string(),
            _ => {
                return Err(ApiError::invalid(
                    Code::InvalidBody,
                    "flow: the flow's YAML as a string, or the flow as a JSON object",
                ));
            }
        };
        Ok(FlowSource {
            source,
            config: wrapped.config,
        })
    }
}

/// A flow sent with its config values.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WrappedFlow {
    flow: serde_json::Value,
    #[serde(default = "empty_object")]
    config: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

/// A query string (`?limit=…&cursor=…`); unknown parameters and wrong types are 400.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        refuse_nul_in_uri(&parts.uri)?;
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(value))
    }
}

/// A path parameter.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        refuse_nul_in_uri(&parts.uri)?;
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(ApiPath(value))
    }
}
