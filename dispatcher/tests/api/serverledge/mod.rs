//! The Serverledge facade (`../shared/seeds/serverledge-api.txt`) against a scripted worker on a
//! real WebSocket: shapes and status codes of every endpoint, async poll, failures, drops
//! (`flows`), bad input, auth and cross-account isolation (`refusals`).

mod flows;
mod refusals;

use base64::Engine;
use canopy_shared::protocol::Assignment;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::fake_worker::FakeWorker;
use crate::helpers::TestApp;

pub const ISPRIME: &[u8] = b"def handler(params, context):\n    return {'IsPrime': True}\n";

/// A base64 tar holding `files`, as Serverledge's CLI sends `TarFunctionCode`.
pub fn tar_code(files: &[(&str, &[u8])]) -> String {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, path, *data).expect("file");
    }
    base64::engine::general_purpose::STANDARD.encode(builder.into_inner().expect("tar"))
}

pub fn isprime_create() -> Value {
    json!({"Name": "isprime", "Runtime": "python310", "MemoryMB": 128, "CPUDemand": 0.5,
           "Handler": "isprime.handler", "TarFunctionCode": tar_code(&[("isprime.py", ISPRIME)])})
}

/// A new API key of the account behind `token`.
pub async fn api_key(app: &TestApp, token: &str) -> String {
    let created = app
        .send(Method::POST, "/v1/user/apiKey", Some(token), None)
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.expect("json");
    created["key"].as_str().expect("key").to_owned()
}

pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> Response {
    app.send(method, path, Some(key), body).await
}

/// Asserts a text/plain error with its status and `X-Canopy-Error-Code`; returns the text.
pub async fn assert_text_error(response: Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status, "status for {code}");
    let headers = response.headers().clone();
    assert_eq!(headers["x-canopy-error-code"], code);
    assert!(headers["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/plain"));
    response.text().await.expect("text")
}

/// Answers an assignment as a runner does for a Serverledge handler.
pub async fn answer(worker: &mut FakeWorker, assignment: &Assignment, result: &str, output: &str) {
    let body = serde_json::to_vec(&json!({"Result": result, "Output": output})).expect("json");
    worker
        .respond(assignment, 200, "application/json", &body)
        .await;
}
