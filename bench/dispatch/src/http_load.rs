//! The HTTP side of the load: one keep-alive HTTP/1.1 client pool per round, and the
//! create→result operation (`POST /v1/task/{fn}` with `Prefer: wait`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::StatusCode;

use crate::load::{self, Failure, Round, Sample, Window};

/// The small JSON body every task carries.
pub const TASK_BODY: &[u8] = br#"{"n":1}"#;

/// Where tasks go and as whom.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Access token of the benchmark's developer.
    pub token: String,
    pub function: String,
}

impl Target {
    pub fn task_url(&self) -> String {
        format!("{}/v1/task/{}", self.base, self.function)
    }
}

/// A client whose pool keeps one idle connection per benchmark client, with the bearer token
/// and content type set once.
pub fn client(target: &Target, clients: usize) -> anyhow::Result<reqwest::Client> {
    let mut headers = HeaderMap::new();
    let mut bearer = HeaderValue::from_str(&format!("Bearer {}", target.token))?;
    bearer.set_sensitive(true);
    headers.insert(AUTHORIZATION, bearer);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(clients.max(1))
        .pool_idle_timeout(Duration::from_secs(120))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(90))
        .build()?)
}

/// A short label for a failed request.
pub fn transport_failure(error: &reqwest::Error) -> Failure {
    if error.is_timeout() {
        "timeout".into()
    } else if error.is_connect() {
        "connect".into()
    } else {
        "transport".into()
    }
}

/// One round of create→result: each client posts with `Prefer: wait=<wait_s>` and waits for
/// the function's answer. Only `200` with `Preference-Applied` (the function's own response)
/// counts as a success; `202` (the wait ran out) and every other status are failures.
pub async fn create_result_round(
    target: &Target,
    clients: usize,
    warmup: Duration,
    seconds: Duration,
    wait_s: u64,
) -> anyhow::Result<Round> {
    let client = client(target, clients)?;
    let url: Arc<str> = target.task_url().into();
    let prefer = HeaderValue::from_str(&format!("wait={wait_s}"))?;
    let window = Window::after(warmup, seconds);
    let op = move || {
        let (client, url, prefer) = (client.clone(), url.clone(), prefer.clone());
        async move { create_and_wait(&client, &url, prefer).await }
    };
    Ok(load::run(clients, window, op).await)
}

async fn create_and_wait(
    client: &reqwest::Client,
    url: &str,
    prefer: HeaderValue,
) -> Result<Sample, Failure> {
    let started = Instant::now();
    let response = client
        .post(url)
        .header("prefer", prefer)
        .body(TASK_BODY)
        .send()
        .await
        .map_err(|error| transport_failure(&error))?;
    let status = response.status();
    let applied = response.headers().contains_key("preference-applied");
    // The body is read in full so the connection goes back to the pool.
    response
        .bytes()
        .await
        .map_err(|error| transport_failure(&error))?;
    let finished = Instant::now();
    match status {
        StatusCode::OK if applied => Ok(Sample {
            started,
            finished,
            secondary: None,
        }),
        StatusCode::ACCEPTED => Err("http_202_wait_ran_out".into()),
        other => Err(format!("http_{}", other.as_u16())),
    }
}
