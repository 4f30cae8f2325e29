//! `ValidJson<T>`: a size-capped, content-type-checked JSON body, deserialized with field paths
//! and validated, so every bad body becomes a 400/413 problem naming the field.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::error::{ApiError, FieldError};

/// Cap for the JSON bodies of the account, function and tag endpoints.
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

/// A JSON body of type `T` that has passed `T`'s validation rules.
#[derive(Debug)]
pub struct ValidJson<T>(pub T);

impl<T> FromRequest for ValidJson<T>
where
    T: DeserializeOwned + Validate + 'static,
{
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = check_json_content_type(req);
        let body = read_body(req, payload.take(), JSON_BODY_LIMIT);
        Box::pin(async move {
            content_type?;
            let bytes = body.await?;
            let value: T = parse_json(&bytes)?;
            value
                .validate()
                .map_err(|errors| ApiError::validation(flatten(&errors)))?;
            Ok(ValidJson(value))
        })
    }
}

/// Like `ValidJson`, but an empty body (with no content type) means `T::default()`.
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T> FromRequest for OptionalJson<T>
where
    T: DeserializeOwned + Validate + Default + 'static,
{
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let has_content_type = req.headers().contains_key(header::CONTENT_TYPE);
        let content_type = if has_content_type {
            check_json_content_type(req)
        } else {
            Ok(())
        };
        let body = read_body(req, payload.take(), JSON_BODY_LIMIT);
        Box::pin(async move {
            let bytes = body.await?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(T::default()));
            }
            if !has_content_type {
                return Err(ApiError::bad_request(
                    "UNSUPPORTED_CONTENT_TYPE",
                    "the Content-Type header must be application/json",
                ));
            }
            content_type?;
            let value: T = parse_json(&bytes)?;
            value
                .validate()
                .map_err(|errors| ApiError::validation(flatten(&errors)))?;
            Ok(OptionalJson(value))
        })
    }
}

fn check_json_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let essence = content_type.map(|value| {
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    match essence.as_deref() {
        Some("application/json") => Ok(()),
        Some(other) if other.starts_with("application/") && other.ends_with("+json") => Ok(()),
        Some(other) => Err(ApiError::bad_request(
            "UNSUPPORTED_CONTENT_TYPE",
            format!("expected Content-Type application/json, got {other}"),
        )),
        None => Err(ApiError::bad_request(
            "UNSUPPORTED_CONTENT_TYPE",
            "the Content-Type header must be application/json",
        )),
    }
}

/// Reads a whole body, refusing (413) anything over `limit` bytes without buffering it.
pub fn read_body(
    req: &HttpRequest,
    mut payload: Payload,
    limit: usize,
) -> impl Future<Output = Result<web::Bytes, ApiError>> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    async move {
        if declared.is_some_and(|length| length > limit) {
            return Err(ApiError::payload_too_large(limit));
        }
        let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
        while let Some(chunk) = payload.next().await {
            let chunk = chunk
                .map_err(|error| ApiError::bad_request("BODY_UNREADABLE", error.to_string()))?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::payload_too_large(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }
}

/// Deserializes JSON, telling syntax errors (`INVALID_JSON`) from wrong fields (`VALIDATION_FAILED`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "INVALID_JSON",
            "the request body is empty; a JSON object is required",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.classify() != serde_json::error::Category::Data {
            return ApiError::bad_request(
                "INVALID_JSON",
                format!("the request body is not valid JSON: {inner}"),
            );
        }
        let message = strip_position(&inner);
        match field_of(&path, &message) {
            Some(field) => ApiError::invalid_field(field, message),
            None => ApiError::bad_request("INVALID_JSON", message),
        }
    })?;
    deserializer.end().map_err(|error| {
        ApiError::bad_request(
            "INVALID_JSON",
            format!("trailing characters after the JSON value: {error}"),
        )
    })?;
    Ok(value)
}

/// The JSON path a data error is about: serde's path, completed with the field named by
/// "missing field `x`" / "unknown field `x`" errors, which serde reports at the parent.
fn field_of(path: &str, message: &str) -> Option<String> {
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    let parent = (path != ".").then_some(path);
    match (parent, named) {
        (Some(parent), Some(name)) if parent.ends_with(name) => Some(parent.to_owned()),
        (Some(parent), Some(name)) => Some(format!("{parent}.{name}")),
        (None, Some(name)) => Some(name.to_owned()),
        (Some(parent), None) => Some(parent.to_owned()),
        (None, None) => None,
    }
}

fn strip_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(index) => text[..index].to_owned(),
        None => text,
    }
}

/// Flattens validator's nested errors into `{field, message}` with JSON paths.
pub fn flatten(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut out = Vec::new();
    collect(errors, "", &mut out);
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

fn collect(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let field = camel_case(field);
        let path = if prefix.is_empty() {
            field
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for error in list {
                    let message = error
                        .message
                        .as_deref()
                        .map(str::to_owned)
                        .unwrap_or_else(|| error.code.to_string());
                    out.push(FieldError::new(path.clone(), message));
                }
            }
            ValidationErrorsKind::Struct(nested) => collect(nested, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, nested) in items {
                    collect(nested, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

/// validator reports Rust field names; the API's JSON names are their camelCase forms.
fn camel_case(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_reported_in_camel_case() {
        assert_eq!(camel_case("cpu_count"), "cpuCount");
        assert_eq!(camel_case("name"), "name");
    }

    #[test]
    fn syntax_errors_and_field_errors_get_different_codes() {
        #[derive(Debug, serde::Deserialize)]
        struct Body {
            #[allow(dead_code)]
            timeout: u32,
        }
        let syntax = parse_json::<Body>(b"{\"timeout\":").err().map(|e| e.code());
        assert_eq!(syntax, Some("INVALID_JSON"));
        let field = parse_json::<Body>(b"{\"timeout\": -1}")
            .err()
            .map(|e| e.code());
        assert_eq!(field, Some("VALIDATION_FAILED"));
        let empty = parse_json::<Body>(b"  ").err().map(|e| e.code());
        assert_eq!(empty, Some("INVALID_JSON"));
    }
}
