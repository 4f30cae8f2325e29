//! Public endpoints against the real dispatcher: managing them (`manage`), calling them and
//! reading results with a scripted worker (`calls`), every limit (`limits`), bad input
//! (`refusals`).

mod calls;
mod limits;
mod manage;
mod refusals;

use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::helpers::{id_of, TestApp};

/// Publishes `function` with `body`; returns the endpoint id.
pub async fn publish(app: &TestApp, token: &str, function: &str, body: Value) -> String {
    let response = app
        .post(&format!("/v1/endpoint/{function}"), Some(token), body)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    id_of(response).await
}

/// An anonymous public call with `body`.
pub async fn call(app: &TestApp, endpoint: &str, body: &str) -> Response {
    app.client
        .post(app.url(&format!("/gc/{endpoint}")))
        .header("content-type", "text/plain")
        .body(body.to_owned())
        .send()
        .await
        .expect("sent")
}

/// The result token of a 201 call.
pub async fn token_of(response: Response) -> String {
    assert_eq!(response.status(), StatusCode::CREATED);
    id_of(response).await
}
