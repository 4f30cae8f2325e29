//! `canopy-worker register`: exchanges an API key for an access token, creates the node with a
//! fresh id, and stores the node's id and token in the config file (mode 0600).

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use serde_json::json;

use crate::cli::RegisterArgs;
use crate::config::{normalize_dispatcher, write_registration, FileConfig, Registration, Secret};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessToken {
    access_token: Secret,
}

#[derive(Deserialize)]
struct NodeCreated {
    token: Secret,
}

/// An `application/problem+json` body.
#[derive(Deserialize)]
struct Problem {
    code: Option<String>,
    detail: Option<String>,
    #[serde(default)]
    errors: Vec<FieldError>,
}

#[derive(Deserialize)]
struct FieldError {
    field: String,
    message: String,
}

/// Turns an error response into `code: detail` (plus field errors).
async fn problem(response: reqwest::Response) -> String {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<Problem>(&text) {
        Ok(problem) => {
            let mut line = format!(
                "{}: {}",
                problem.code.unwrap_or_else(|| status.as_u16().to_string()),
                problem.detail.unwrap_or_else(|| status.to_string())
            );
            for error in problem.errors {
                line.push_str(&format!("\n  {}: {}", error.field, error.message));
            }
            line
        }
        Err(_) => format!("HTTP {status}"),
    }
}

/// Registers this machine and returns the new node id.
pub async fn register(
    config_path: &Path,
    args: &RegisterArgs,
    default_description: &str,
) -> anyhow::Result<String> {
    let base = normalize_dispatcher(&args.dispatcher)?;
    // Refuse before creating a node that could never be used.
    let existing = FileConfig::read(config_path)?;
    if let (Some(node_id), Some(_), false) = (&existing.node_id, &existing.node_token, args.force) {
        anyhow::bail!(
            "{} already holds a registration (node {node_id}); pass --force to replace it",
            config_path.display()
        );
    }
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .context("while building the HTTP client")?;
    let response = http
        .post(format!("{base}/v1/auth/apiKey"))
        .json(&json!({ "key": args.api_key.expose() }))
        .send()
        .await
        .with_context(|| format!("while reaching the dispatcher at {base}"))?;
    if !response.status().is_success() {
        anyhow::bail!("the API key was refused: {}", problem(response).await);
    }
    let access: AccessToken = response
        .json()
        .await
        .context("while reading the access token")?;
    let node_id = uuid::Uuid::new_v4().simple().to_string();
    let description = args
        .description
        .clone()
        .unwrap_or_else(|| default_description.to_owned());
    let response = http
        .post(format!("{base}/v1/node/{node_id}"))
        .bearer_auth(access.access_token.expose())
        .json(&json!({ "description": description }))
        .send()
        .await
        .with_context(|| format!("while creating the node at {base}"))?;
    if !response.status().is_success() {
        anyhow::bail!("the node could not be created: {}", problem(response).await);
    }
    let created: NodeCreated = response
        .json()
        .await
        .context("while reading the node token")?;
    let registration = Registration {
        dispatcher: base,
        node_id: node_id.clone(),
        node_token: created.token,
        description: Some(description),
    };
    write_registration(config_path, &registration, args.force)?;
    Ok(node_id)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::testutil::{HttpServer, Reply};

    fn args(dispatcher: String, key: &str) -> RegisterArgs {
        RegisterArgs {
            dispatcher,
            api_key: Secret::new(key),
            description: Some("test box".into()),
            force: false,
        }
    }

    async fn fake_dispatcher() -> HttpServer {
        HttpServer::start(|request| {
            if request.path == "/v1/auth/apiKey" {
                if request.body == br#"{"key":"good"}"# {
                    return Reply::new(
                        200,
                        br#"{"expiresIn":3600,"accessToken":"jwt","tokenType":"Bearer"}"#.to_vec(),
                    );
                }
                return Reply::new(
                    401,
                    br#"{"code":"INVALID_API_KEY","detail":"The API key is not valid."}"#.to_vec(),
                )
                .with_header("content-type", "application/problem+json");
            }
            let id = request.path.trim_start_matches("/v1/node/");
            assert_eq!(request.header("authorization"), Some("Bearer jwt"));
            assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
            Reply::new(
                201,
                format!(r#"{{"hash":"{id}","token":"node-secret"}}"#).into_bytes(),
            )
        })
        .await
    }

    #[tokio::test]
    async fn register_stores_the_node_id_and_token_privately() {
        let server = fake_dispatcher().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("canopy/worker.toml");
        let node_id = register(&path, &args(server.base_url(), "good"), "host")
            .await
            .expect("registered");
        let stored = FileConfig::read(&path).expect("stored");
        assert_eq!(stored.node_id.as_deref(), Some(node_id.as_str()));
        assert_eq!(
            stored.node_token.as_ref().map(Secret::expose),
            Some("node-secret")
        );
        assert_eq!(stored.description.as_deref(), Some("test box"));
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = register(&path, &args(server.base_url(), "good"), "host").await;
        assert!(again.expect_err("refused").to_string().contains("--force"));
    }

    #[tokio::test]
    async fn a_refused_key_prints_the_problem_code_and_detail() {
        let server = fake_dispatcher().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let error = register(
            &dir.path().join("w.toml"),
            &args(server.base_url(), "bad"),
            "host",
        )
        .await
        .expect_err("refused");
        assert!(
            error
                .to_string()
                .contains("INVALID_API_KEY: The API key is not valid."),
            "{error}"
        );
        assert!(!dir.path().join("w.toml").exists());
    }
}
