//! Prepares a fresh dispatcher through its public API: an account (auto-activated), its access
//! token and an API key, a PY function with a built zip, and registered nodes with their tokens.

use std::io::Write;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "Bench!pass1";
const HANDLER: &str = "def handle(request):\n    return \"noop\"\n";

/// Why the setup failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{step}: expected HTTP {expected}, got {status}: {body}")]
    Status {
        step: &'static str,
        expected: u16,
        status: u16,
        body: String,
    },
    #[error("{step}: the response has no string field `{field}`")]
    Missing {
        step: &'static str,
        field: &'static str,
    },
    #[error("{step}: {source}")]
    Http {
        step: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("the new account is not active: start the dispatcher with --auth-auto-activate true")]
    NotActivated,
    #[error("the dispatcher at {0} did not answer /readyz with 200 within 60 s")]
    NotReady(String),
    #[error("only {connected} of {expected} nodes were connected after {seconds} s")]
    NodesMissing {
        connected: usize,
        expected: usize,
        seconds: u64,
    },
    #[error("cannot build the code zip: {0}")]
    Zip(String),
}

/// A registered node.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    pub token: String,
}

/// Everything the later phases need.
#[derive(Debug)]
pub struct Prepared {
    pub token: String,
    pub api_key: String,
    pub function: String,
    pub worker_nodes: Vec<Node>,
    pub fake_node: Node,
}

impl Prepared {
    /// A shell-sourceable file (`BENCH_…='…'`), values single-quoted.
    pub fn to_env(&self) -> String {
        let workers: Vec<String> = self
            .worker_nodes
            .iter()
            .map(|node| format!("{}:{}", node.id, node.token))
            .collect();
        [
            ("BENCH_TOKEN", self.token.clone()),
            ("BENCH_API_KEY", self.api_key.clone()),
            ("BENCH_FUNCTION", self.function.clone()),
            ("BENCH_WORKER_NODES", workers.join(" ")),
            ("BENCH_FAKE_NODE_ID", self.fake_node.id.clone()),
            ("BENCH_FAKE_NODE_TOKEN", self.fake_node.token.clone()),
        ]
        .iter()
        .map(|(name, value)| format!("{name}='{}'\n", value.replace('\'', "")))
        .collect()
    }
}

struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        step: &'static str,
        request: reqwest::RequestBuilder,
        expected: StatusCode,
    ) -> Result<Value, SetupError> {
        let response = request
            .send()
            .await
            .map_err(|source| SetupError::Http { step, source })?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|source| SetupError::Http { step, source })?;
        if status != expected {
            return Err(SetupError::Status {
                step,
                expected: expected.as_u16(),
                status: status.as_u16(),
                body,
            });
        }
        Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

fn field(value: &Value, step: &'static str, field: &'static str) -> Result<String, SetupError> {
    value[field]
        .as_str()
        .map(str::to_owned)
        .ok_or(SetupError::Missing { step, field })
}

/// Waits for `/readyz`, then creates the account, function, build and `worker_nodes` + 1 nodes.
pub async fn prepare(base: &str, worker_nodes: usize) -> Result<Prepared, SetupError> {
    let api = Api {
        client: reqwest::Client::new(),
        base: base.trim_end_matches('/').to_owned(),
    };
    wait_ready(&api).await?;
    let register =
        json!({"name": "Bench", "surname": "Mark", "email": EMAIL, "password": PASSWORD});
    let registered = api
        .call(
            "register",
            api.client
                .post(api.url("/v1/auth/register"))
                .json(&register),
            StatusCode::CREATED,
        )
        .await?;
    if registered["activated"] != Value::Bool(true) {
        return Err(SetupError::NotActivated);
    }
    let login = json!({"email": EMAIL, "password": PASSWORD});
    let login = api
        .call(
            "login",
            api.client.post(api.url("/v1/auth/login")).json(&login),
            StatusCode::OK,
        )
        .await?;
    let token = field(&login, "login", "accessToken")?;
    let key = api
        .call(
            "create API key",
            api.client
                .post(api.url("/v1/user/apiKey"))
                .bearer_auth(&token)
                .json(&json!({"name": "bench"})),
            StatusCode::CREATED,
        )
        .await?;
    let api_key = field(&key, "create API key", "key")?;
    let function = deploy(&api, &token).await?;
    let mut nodes = Vec::with_capacity(worker_nodes + 1);
    for index in 0..=worker_nodes {
        nodes.push(register_node(&api, &token, index).await?);
    }
    let fake_node = nodes.pop().ok_or(SetupError::Missing {
        step: "register node",
        field: "token",
    })?;
    Ok(Prepared {
        token,
        api_key,
        function,
        worker_nodes: nodes,
        fake_node,
    })
}

async fn wait_ready(api: &Api) -> Result<(), SetupError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(response) = api.client.get(api.url("/readyz")).send().await {
            if response.status() == StatusCode::OK {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(SetupError::NotReady(api.base.clone()))
}

async fn deploy(api: &Api, token: &str) -> Result<String, SetupError> {
    let create = json!({"name": "BenchNoop", "lang": "PY", "type": "DOCKER"});
    let created = api
        .call(
            "create function",
            api.client
                .post(api.url("/v1/function"))
                .bearer_auth(token)
                .json(&create),
            StatusCode::CREATED,
        )
        .await?;
    let function = field(&created, "create function", "id")?;
    let build = api.client.post(api.url(&format!("/v1/build/{function}")));
    api.call(
        "upload build",
        build
            .bearer_auth(token)
            .header("content-type", "application/zip")
            .body(handler_zip()?),
        StatusCode::CREATED,
    )
    .await?;
    Ok(function)
}

async fn register_node(api: &Api, token: &str, index: usize) -> Result<Node, SetupError> {
    let id = canopy_shared::format_id(canopy_shared::new_id());
    let registered = api
        .call(
            "register node",
            api.client
                .post(api.url(&format!("/v1/node/{id}")))
                .bearer_auth(token)
                .json(&json!({"description": format!("bench-{index}")})),
            StatusCode::CREATED,
        )
        .await?;
    Ok(Node {
        id,
        token: field(&registered, "register node", "token")?,
    })
}

/// A zip with `handler.py` at its root.
fn handler_zip() -> Result<Vec<u8>, SetupError> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let zip_error = |error: &dyn std::fmt::Display| SetupError::Zip(error.to_string());
    writer
        .start_file("handler.py", zip::write::SimpleFileOptions::default())
        .map_err(|e| zip_error(&e))?;
    writer
        .write_all(HANDLER.as_bytes())
        .map_err(|e| zip_error(&e))?;
    Ok(writer.finish().map_err(|e| zip_error(&e))?.into_inner())
}

/// Waits until at least `expected` of the account's nodes are connected.
pub async fn wait_nodes(
    base: &str,
    token: &str,
    expected: usize,
    seconds: u64,
) -> Result<(), SetupError> {
    let client = reqwest::Client::new();
    let url = format!("{}/v1/node/list", base.trim_end_matches('/'));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut connected = 0;
    while Instant::now() < deadline {
        if let Ok(response) = client.get(&url).bearer_auth(token).send().await {
            if let Ok(Value::Array(nodes)) = response.json::<Value>().await {
                connected = nodes
                    .iter()
                    .filter(|node| node["connected"] == Value::Bool(true))
                    .count();
                if connected >= expected {
                    return Ok(());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(SetupError::NodesMissing {
        connected,
        expected,
        seconds,
    })
}
