//! Credentials over time: a 2FA account's login needs its code, and an access token that has
//! expired is renewed from the stored refresh token (password login) or API key.

use canopy_dispatcher::auth::totp;
use serde_json::{json, Value};
use sqlx::PgPool;

use super::User;
use canopy_e2e::harness::Platform;

fn totp_code(seed: &str, steps_from_now: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    totp::code_at_step(seed, totp::step_of(now as i64) + steps_from_now).expect("a code")
}

/// The config file with every context's access token marked expired.
fn expire_tokens(user: &User) -> String {
    let text = std::fs::read_to_string(user.config_file()).expect("config");
    let expired: Vec<String> = text
        .lines()
        .map(|line| {
            if line.starts_with("expires_at = ") {
                "expires_at = 0".to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect();
    let expired = expired.join("\n") + "\n";
    std::fs::write(user.config_file(), &expired).expect("written");
    expired
}

fn line_of<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find(|line| line.starts_with(key))
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

#[sqlx::test(migrations = "../migrations")]
async fn a_2fa_login_needs_the_code_and_takes_it_once(pool: PgPool) {
    let platform = Platform::start(pool).await;
    let started: Value = platform
        .client
        .post(platform.url("/v1/auth/2FA"))
        .bearer_auth(&platform.token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let seed = started["seed"].as_str().expect("seed").to_owned();
    let verified = platform
        .client
        .post(platform.url("/v1/auth/verify2FA"))
        .bearer_auth(&platform.token)
        .json(&json!({"code": totp_code(&seed, 0)}))
        .send()
        .await
        .expect("sent");
    assert!(verified.status().is_success());

    let user = User::new(&platform, "twofa");
    let login = |twofa: Option<String>| {
        let mut args = vec![
            "login".to_owned(),
            "--url".to_owned(),
            user.url.clone(),
            "--email".to_owned(),
            "dev@example.com".to_owned(),
            "--password-stdin".to_owned(),
        ];
        if let Some(code) = twofa {
            args.extend(["--twofa".to_owned(), code]);
        }
        args
    };
    let without = login(None);
    let without: Vec<&str> = without.iter().map(String::as_str).collect();
    // No terminal to ask on: the API's refusal is the answer.
    user.run_in(&user.home, &without, Some(b"Secr3t!pass\n"))
        .await
        .assert_error(1, "TWOFA_REQUIRED");
    let with = login(Some(totp_code(&seed, 1)));
    let with: Vec<&str> = with.iter().map(String::as_str).collect();
    user.run_in(&user.home, &with, Some(b"Secr3t!pass\n"))
        .await
        .assert_ok();
    let whoami = user.run(&["whoami", "-o", "json"]).await;
    whoami.assert_ok();
    assert_eq!(whoami.json()["twofa"], true);
    // The same code again is a replay.
    user.run_in(&user.home, &with, Some(b"Secr3t!pass\n"))
        .await
        .assert_error(1, "INVALID_TWOFA");
}

#[sqlx::test(migrations = "../migrations")]
async fn expired_access_tokens_are_renewed_from_the_refresh_token_or_the_key(pool: PgPool) {
    let platform = Platform::start(pool).await;
    let user = User::new(&platform, "renew");
    user.run_in(
        &user.home,
        &[
            "login",
            "--url",
            &user.url,
            "--email",
            "dev@example.com",
            "--password-stdin",
        ],
        Some(b"Secr3t!pass\n"),
    )
    .await
    .assert_ok();
    let before = expire_tokens(&user);
    user.run(&["whoami"]).await.assert_ok();
    let after = std::fs::read_to_string(user.config_file()).expect("config");
    assert_ne!(
        line_of(&before, "refresh_token"),
        line_of(&after, "refresh_token"),
        "rotated"
    );
    assert_ne!(
        line_of(&before, "access_token"),
        line_of(&after, "access_token")
    );
    assert_ne!(line_of(&after, "expires_at"), "expires_at = 0");

    // The old refresh token was rotated away: reusing it ends the login (the server's reuse
    // detection), which the CLI reports as NOT_LOGGED_IN.
    std::fs::write(user.config_file(), &before).expect("old config back");
    user.run(&["whoami"]).await.assert_error(1, "NOT_LOGGED_IN");

    let keyed = User::new(&platform, "renew-key");
    keyed.login(&platform.api_key).await;
    let before = expire_tokens(&keyed);
    keyed.run(&["whoami"]).await.assert_ok();
    let after = std::fs::read_to_string(keyed.config_file()).expect("config");
    assert_ne!(
        line_of(&before, "access_token"),
        line_of(&after, "access_token")
    );
    assert_eq!(line_of(&before, "api_key"), line_of(&after, "api_key"));
}
