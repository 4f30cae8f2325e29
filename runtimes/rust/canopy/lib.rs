//! The `canopy` crate of the Rust runtime: the types a function exchanges with the runner, and the
//! runner itself (docs/runtime-contract.md, "Rust"). A function is `handler.rs` with
//! `pub fn handle(req: Request) -> impl IntoResponse`; start.sh compiles it against this crate.

use std::collections::HashMap;
use std::fmt::Display;

mod http;
pub mod json;
mod sys;

pub use http::serve;
pub use json::Value;

/// One task's HTTP request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The raw path, without the query string.
    pub path: String,
    /// The raw query without `?`, `""` when none.
    pub query: String,
    /// Each query parameter's last value, percent-decoded.
    pub query_params: HashMap<String, String>,
    /// Header names in lowercase; repeated headers joined with ", ".
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Request {
    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.body)
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<Value, json::Error> {
        let text = self.text().map_err(|e| json::Error(format!("body is not UTF-8: {e}")))?;
        json::parse(text)
    }
}

/// What the response body is; each kind has its default content type.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Empty,
    /// `text/plain; charset=utf-8`.
    Text(String),
    /// `application/octet-stream`.
    Bytes(Vec<u8>),
    /// `application/json`.
    Json(Value),
}

/// A response: status (200 unless set), headers, body.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Response {
    fn of(body: Body) -> Response {
        Response { status: 200, headers: Vec::new(), body }
    }
    pub fn empty() -> Response {
        Response::of(Body::Empty)
    }
    pub fn text(text: impl Into<String>) -> Response {
        Response::of(Body::Text(text.into()))
    }
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Response {
        Response::of(Body::Bytes(bytes.into()))
    }
    pub fn json(value: impl Into<Value>) -> Response {
        Response::of(Body::Json(value.into()))
    }
    /// Sets the status; one outside 200..=599 makes the task fail.
    pub fn with_status(mut self, status: u16) -> Response {
        self.status = status;
        self
    }
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What a handler may return: a [`Response`], a `String`/`&str` (text), `Vec<u8>` (bytes), a
/// [`Value`] (JSON), `()` (empty), or a `Result` of any of these whose `Err` fails the task.
pub trait IntoResponse {
    /// `Err` is the task's error message.
    fn into_response(self) -> Result<Response, String>;
}

impl IntoResponse for Response {
    fn into_response(self) -> Result<Response, String> {
        Ok(self)
    }
}
impl IntoResponse for String {
    fn into_response(self) -> Result<Response, String> {
        Ok(Response::text(self))
    }
}
impl IntoResponse for &str {
    fn into_response(self) -> Result<Response, String> {
        Ok(Response::text(self))
    }
}
impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Result<Response, String> {
        Ok(Response::bytes(self))
    }
}
impl IntoResponse for Value {
    fn into_response(self) -> Result<Response, String> {
        Ok(Response::json(self))
    }
}
impl IntoResponse for () {
    fn into_response(self) -> Result<Response, String> {
        Ok(Response::empty())
    }
}
impl<T: IntoResponse, E: Display> IntoResponse for Result<T, E> {
    fn into_response(self) -> Result<Response, String> {
        self.map_err(|e| e.to_string())?.into_response()
    }
}
