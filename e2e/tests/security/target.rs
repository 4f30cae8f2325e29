//! The dispatcher under attack: a real `canopy-dispatcher` process on a fresh database, with one
//! developer account on it and its `examples/python-hello` function built.

use canopy_e2e::harness::repo_root;
use canopy_e2e::procs::{database_url, developer_with_function, DispatcherProc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

pub struct Target {
    pub dispatcher: DispatcherProc,
    pub base: String,
    pub client: reqwest::Client,
    /// The developer's access token.
    pub token: String,
    pub function: String,
    _dir: std::path::PathBuf,
}

impl Target {
    pub async fn start(pool: &PgPool, flags: &[&str]) -> Target {
        let dir = std::env::temp_dir().join(format!(
            "canopy-security-{}",
            canopy_shared::format_id(canopy_shared::new_id())
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let dispatcher =
            DispatcherProc::start(&database_url(pool), &dir, "dispatcher", flags).await;
        let base = dispatcher.url();
        let (token, function) =
            developer_with_function(&base, &repo_root().join("examples/python-hello")).await;
        Target {
            dispatcher,
            base,
            client: reqwest::Client::new(),
            token,
            function,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A node of the account behind `token`: (node id, node token).
    pub async fn register_node(&self, token: &str) -> (String, String) {
        let id = canopy_shared::format_id(canopy_shared::new_id());
        let response = self
            .client
            .post(self.url(&format!("/v1/node/{id}")))
            .bearer_auth(token)
            .json(&json!({"description": "scripted node"}))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("json");
        (id, body["token"].as_str().expect("token").to_owned())
    }

    /// Submits a task of the function without waiting: its id.
    pub async fn submit(&self) -> String {
        let response = self
            .client
            .post(self.url(&format!("/v1/task/{}?name=Ada", self.function)))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("json");
        body["id"].as_str().expect("id").to_owned()
    }

    /// The developer's view of a task.
    pub async fn task(&self, task: &str) -> Value {
        self.client
            .get(self.url(&format!("/v1/task/{task}")))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json")
    }
}
