//! What the sessions need: a developer account and N nodes with tokens, registered through the
//! API (`POST /v1/node/{id}`) like `canopy-worker register` does, many requests at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{stream, StreamExt, TryStreamExt};
use serde_json::{json, Value};

/// A registered node.
#[derive(Debug, Clone)]
pub struct Node {
    /// As the API formats it (32 hex).
    pub id: String,
    pub token: String,
}

const EMAIL: &str = "sockets-bench@example.com";
const PASSWORD: &str = "Secr3t!pass";

/// Waits for `/readyz` (60 s at most).
pub async fn wait_ready(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await {
            if response.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("{base} did not become ready within 60 s")
}

/// Signs up (the dispatcher must auto-activate accounts) and logs in; returns the access token.
pub async fn account(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let body = json!({"name": "Socket", "surname": "Bench", "email": EMAIL, "password": PASSWORD});
    let registered = client
        .post(format!("{base}/v1/auth/register"))
        .json(&body)
        .send()
        .await
        .context("while registering the bench account")?;
    anyhow::ensure!(
        registered.status().is_success(),
        "registering the bench account answered {} (is --auth-auto-activate true?)",
        registered.status()
    );
    let login: Value = client
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .context("while logging in")?
        .error_for_status()
        .context("while logging in")?
        .json()
        .await
        .context("while reading the login answer")?;
    login["accessToken"]
        .as_str()
        .map(str::to_owned)
        .context("the login answer has no accessToken")
}

/// Registers `count` nodes, `concurrency` requests at a time, printing progress every second.
pub async fn nodes(
    client: &reqwest::Client,
    base: &str,
    access_token: &str,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Node>> {
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let progress = tokio::spawn(print_progress(Arc::clone(&done), count, started));
    let registered = stream::iter(0..count)
        .map(|_| {
            let done = Arc::clone(&done);
            async move {
                let node = register(client, base, access_token).await?;
                done.fetch_add(1, Ordering::Relaxed);
                Ok::<_, anyhow::Error>(node)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<Vec<_>>()
        .await;
    progress.abort();
    let registered = registered?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "setup: {} nodes registered through the API in {seconds:.1} s ({:.0}/s)",
        registered.len(),
        registered.len() as f64 / seconds.max(0.001)
    );
    Ok(registered)
}

async fn register(
    client: &reqwest::Client,
    base: &str,
    access_token: &str,
) -> anyhow::Result<Node> {
    let id = canopy_shared::format_id(canopy_shared::new_id());
    let response = client
        .post(format!("{base}/v1/node/{id}"))
        .bearer_auth(access_token)
        .json(&json!({"description": "sockets bench"}))
        .send()
        .await
        .context("while registering a node")?;
    let status = response.status();
    anyhow::ensure!(
        status == reqwest::StatusCode::CREATED,
        "POST /v1/node/{id} answered {status}"
    );
    let body: Value = response
        .json()
        .await
        .context("while reading a node token")?;
    let token = body["token"]
        .as_str()
        .context("the node answer has no token")?
        .to_owned();
    Ok(Node { id, token })
}

async fn print_progress(done: Arc<AtomicUsize>, count: usize, started: Instant) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.tick().await;
    loop {
        tick.tick().await;
        let now = done.load(Ordering::Relaxed);
        println!(
            "setup: {now}/{count} nodes ({:.0}/s)",
            now as f64 / started.elapsed().as_secs_f64().max(0.001)
        );
    }
}
