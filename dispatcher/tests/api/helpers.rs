//! `TestApp`: spawns the dispatcher on port 0 around a test database, with typed helpers.

use canopy_dispatcher::settings::{Secret, Settings};
use canopy_dispatcher::startup::Application;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

pub const PASSWORD: &str = "Secr3t!pass";
pub const JWT_SECRET: &str = "test-signing-key-test-signing-key-0123";

pub struct TestApp {
    pub address: String,
    /// The Serverledge facade's own listener, when `serverledge.listen` was set.
    pub serverledge_address: Option<String>,
    pub client: reqwest::Client,
    pub pool: PgPool,
    /// The running app's state, to step background loops (`run_once`) instead of sleeping.
    pub state: std::sync::Arc<canopy_dispatcher::state::AppState>,
}

/// A registered, logged-in account.
pub struct TestUser {
    pub email: String,
    pub token: String,
    pub refresh_token: String,
}

impl TestApp {
    /// A dispatcher with auto-activation on (no mail step) and a known signing key.
    pub async fn spawn(pool: PgPool) -> TestApp {
        Self::spawn_with(pool, |_| {}).await
    }

    pub async fn spawn_with(pool: PgPool, customise: impl FnOnce(&mut Settings)) -> TestApp {
        if std::env::var_os("CANOPY_TEST_LOG").is_some() {
            canopy_dispatcher::telemetry::init("text");
        }
        let mut settings = Settings::defaults();
        settings.listen = "127.0.0.1:0".parse().expect("loopback address");
        settings.http_workers = 1;
        settings.auth.auto_activate = true;
        settings.auth.jwt_secret = Some(Secret::new(JWT_SECRET));
        customise(&mut settings);
        let app = Application::build(&settings, pool.clone())
            .await
            .expect("the app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let serverledge_address = app
            .serverledge_port()
            .map(|port| format!("http://127.0.0.1:{port}"));
        let state = app.state();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            address,
            serverledge_address,
            client: reqwest::Client::new(),
            pool,
            state,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends `body` as JSON with an optional bearer token.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
            .send()
            .await
            .expect("the request reaches the server")
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.send(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.send(Method::POST, path, token, Some(body)).await
    }

    pub async fn register(&self, email: &str) -> Response {
        self.post(
            "/v1/auth/register",
            None,
            json!({"name": "Richard", "surname": "Smith", "email": email, "password": PASSWORD}),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str, twofa: Option<&str>) -> Response {
        let mut body = json!({"email": email, "password": password});
        if let Some(code) = twofa {
            body["twofa"] = json!(code);
        }
        self.post("/v1/auth/login", None, body).await
    }

    /// Registers and logs in a new account.
    pub async fn signup(&self, email: &str) -> TestUser {
        assert_eq!(self.register(email).await.status(), StatusCode::CREATED);
        let response = self.login(email, PASSWORD, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("login body");
        TestUser {
            email: email.to_owned(),
            token: body["accessToken"]
                .as_str()
                .expect("accessToken")
                .to_owned(),
            refresh_token: body["refreshToken"]
                .as_str()
                .expect("refreshToken")
                .to_owned(),
        }
    }

    /// Creates a function from the seed's example body (with `tag`) and returns its id.
    pub async fn create_function(&self, token: &str, name: &str, tags: &[&str]) -> String {
        let body = json!({"name": name, "description": "My function description", "tag": tags, "lang": "GO", "type": "DOCKER"});
        let response = self.post("/v1/function", Some(token), body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        id_of(response).await
    }

    /// Creates a function in `lang` (e.g. "PY") and returns its id.
    pub async fn create_function_in(&self, token: &str, name: &str, lang: &str) -> String {
        let body = json!({"name": name, "lang": lang, "type": "DOCKER"});
        let response = self.post("/v1/function", Some(token), body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        id_of(response).await
    }

    pub async fn create_tag(&self, token: &str, name: &str, color: &str) -> String {
        let response = self
            .post(
                "/v1/tag",
                Some(token),
                json!({"name": name, "color": color}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        id_of(response).await
    }
}

/// The `id` of a `201 {"id"}` response.
pub async fn id_of(response: Response) -> String {
    let body: Value = response.json().await.expect("a JSON body");
    let id = body["id"].as_str().expect("an id").to_owned();
    assert_eq!(id.len(), 32, "ids are 32 hex characters");
    id
}

/// Asserts a problem+json response with this status and code; returns the document.
pub async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status of a {code} problem");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("a problem document");
    assert_eq!(body["code"], code, "problem: {body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

/// Asserts a 400 VALIDATION_FAILED naming `field`.
pub async fn assert_invalid_field(response: Response, field: &str) {
    let body = assert_problem(response, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert!(
        fields.contains(&field),
        "expected an error on {field}, got {fields:?}"
    );
}
