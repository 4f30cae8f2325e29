//! Talking to a function's runner over HTTP: waiting until it is ready, then replaying the
//! task's request on a kept-alive connection and turning the answer into an [`Outcome`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use canopy_shared::protocol::{decode_body, encode_body, Outcome, TaskRequest};
use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE};

/// Readiness path of the runner (`docs/runtime-contract.md`).
pub const HEALTH_PATH: &str = "/__canopy/health";
/// Where a blank container's runner is asked to load its code (`executor::blank`).
pub const LOAD_PATH: &str = "/__canopy/load";
/// Header carrying a raised handler's message.
pub const ERROR_HEADER: &str = "x-canopy-error";
/// Largest response body the dispatcher accepts (one limit for both sides).
pub use canopy_shared::protocol::MAX_RESPONSE_BYTES;
/// Delay between readiness probes.
const PROBE_EVERY: Duration = Duration::from_millis(5);

/// Headers the worker sets itself or that only make sense per hop.
const SKIPPED_HEADERS: [&str; 7] = [
    "host",
    "content-length",
    "content-type",
    "connection",
    "transfer-encoding",
    "keep-alive",
    "upgrade",
];

/// Why a request to the runner failed (not the function's answer, which is always an outcome).
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("the runner was not ready within {0:?}")]
    NotReady(Duration),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("the runner did not answer: {0}")]
    Transport(String),
    #[error("RESPONSE_TOO_LARGE: the response body is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
}

/// The one HTTP client for all runners: no proxy, keep-alive, no Nagle.
pub fn runner_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// Polls `GET /__canopy/health` until it answers 200 or `timeout` passes.
pub async fn wait_ready(
    http: &reqwest::Client,
    addr: SocketAddr,
    timeout: Duration,
) -> Result<(), InvokeError> {
    let url = format!("http://{addr}{HEALTH_PATH}");
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(InvokeError::NotReady(timeout));
        }
        let probe = http
            .get(&url)
            .timeout(left.min(Duration::from_millis(500)))
            .send()
            .await;
        if matches!(probe, Ok(ref response) if response.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
}

/// Asks a blank container's runner to load the code now under its `/app` (it answers once it
/// has; a load error is reported by the runner on each later request).
pub async fn load(
    http: &reqwest::Client,
    addr: SocketAddr,
    timeout: Duration,
) -> Result<(), InvokeError> {
    let response = http
        .post(format!("http://{addr}{LOAD_PATH}"))
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| InvokeError::Transport(e.to_string()))?;
    if response.status().is_success() {
        return Ok(());
    }
    Err(InvokeError::BadRequest(format!(
        "the runner refused to load: HTTP {}",
        response.status()
    )))
}

/// Sends the task's request to the runner and returns its answer as an outcome.
pub async fn invoke(
    http: &reqwest::Client,
    addr: SocketAddr,
    request: &TaskRequest,
) -> Result<Outcome, InvokeError> {
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .map_err(|_| InvokeError::BadRequest(format!("method `{}`", request.method)))?;
    let body = decode_body(&request.body)
        .map_err(|e| InvokeError::BadRequest(format!("body is not base64: {e}")))?;
    let url = if request.query.is_empty() {
        format!("http://{addr}/")
    } else {
        format!("http://{addr}/?{}", request.query)
    };
    let mut builder = http.request(method, url).body(body);
    for (name, value) in &request.headers {
        if SKIPPED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        // A header that is not valid HTTP cannot reach the function; drop it rather than fail.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            builder = builder.header(name, value);
        }
    }
    if let Some(content_type) = &request.content_type {
        builder = builder.header(CONTENT_TYPE, content_type);
    }
    let mut response = builder
        .send()
        .await
        .map_err(|e| InvokeError::Transport(e.to_string()))?;
    let status = response.status().as_u16();
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header(CONTENT_TYPE.as_str());
    let error = header(ERROR_HEADER);
    if response.content_length().unwrap_or(0) > MAX_RESPONSE_BYTES as u64 {
        return Err(InvokeError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| InvokeError::Transport(e.to_string()))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(InvokeError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Outcome::Response {
        status,
        content_type,
        body: encode_body(&body),
        error,
    })
}

#[cfg(test)]
#[path = "invoke_tests.rs"]
mod tests;
