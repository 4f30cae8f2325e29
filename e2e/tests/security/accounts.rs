//! Account attacks: locking a victim out with wrong passwords, using an access token after the
//! password changed, a privileged function without an admin's approval, scraping `/metrics`.

use canopy_e2e::harness::docker_tests_enabled;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::target::Target;

/// The developer's password (`canopy_e2e::procs::developer_with_function`).
const PASSWORD: &str = "Secr3t!pass";
const EMAIL: &str = "fault@example.com";

async fn code_of(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.expect("problem+json");
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

#[sqlx::test(migrations = "../migrations")]
async fn wrong_passwords_from_elsewhere_never_lock_the_owner_out(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let target = Target::start(&pool, &[]).await;
    // The attacker's requests come from another loopback address.
    let attacker = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().expect("address")))
        .build()
        .expect("client");
    let mut limited = 0;
    for attempt in 0..20 {
        let response = attacker
            .post(target.url("/v1/auth/login"))
            .json(&json!({"email": EMAIL, "password": format!("Guess{attempt}!x")}))
            .send()
            .await
            .expect("sent");
        let (status, code) = code_of(response).await;
        match status {
            StatusCode::UNAUTHORIZED => assert_eq!(code, "INVALID_CREDENTIALS"),
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(code, "TOO_MANY_ATTEMPTS");
                limited += 1;
            }
            other => panic!("a wrong password got {other}"),
        }
    }
    assert!(limited > 0, "the attacker is slowed down");
    let owner = target
        .client
        .post(target.url("/v1/auth/login"))
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .expect("sent");
    assert_eq!(owner.status(), StatusCode::OK, "the owner still logs in");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_access_token_dies_with_a_password_change(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let target = Target::start(&pool, &[]).await;
    let me = |token: String| {
        target
            .client
            .get(target.url("/v1/user"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(
        me(target.token.clone()).await.expect("sent").status(),
        StatusCode::OK
    );
    let changed = target
        .client
        .put(target.url("/v1/user/password"))
        .bearer_auth(&target.token)
        .json(&json!({"currentPassword": PASSWORD, "password": "N3w!password"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let (status, _) = code_of(me(target.token.clone()).await.expect("sent")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the stolen token is dead");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_privileged_function_needs_an_admins_approval(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let target = Target::start(&pool, &[]).await;
    let response = target
        .client
        .post(target.url(&format!("/v1/function/{}/capabilities", target.function)))
        .bearer_auth(&target.token)
        .json(&json!({"privileged": true}))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        code_of(response).await,
        (StatusCode::FORBIDDEN, "PRIVILEGED_NOT_APPROVED".to_owned())
    );
    let view: Value = target
        .client
        .get(target.url(&format!("/v1/function/{}/capabilities", target.function)))
        .bearer_auth(&target.token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(view["privileged"], false, "{view}");
}

#[sqlx::test(migrations = "../migrations")]
async fn metrics_need_the_metrics_token(pool: PgPool) {
    if !docker_tests_enabled() {
        return;
    }
    let secret = "metrics-secret-0123456789";
    let target = Target::start(&pool, &["--metrics-token", secret]).await;
    let anonymous = target
        .client
        .get(target.url("/metrics"))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        code_of(anonymous).await,
        (
            StatusCode::UNAUTHORIZED,
            "METRICS_TOKEN_REQUIRED".to_owned()
        )
    );
    let developer = target
        .client
        .get(target.url("/metrics"))
        .bearer_auth(&target.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(
        developer.status(),
        StatusCode::UNAUTHORIZED,
        "an account's token is not enough"
    );
    let scraper = target
        .client
        .get(target.url("/metrics"))
        .bearer_auth(secret)
        .send()
        .await
        .expect("sent");
    assert_eq!(scraper.status(), StatusCode::OK);
    assert!(scraper.text().await.expect("text").contains("canopy_"));
}
