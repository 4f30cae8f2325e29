//! What the facade refuses: every class of bad input, missing or revoked credentials, and other
//! accounts' functions.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::{api_key, assert_text_error, call, isprime_create, tar_code, ISPRIME};
use crate::helpers::TestApp;

#[sqlx::test(migrations = "../migrations")]
async fn bad_input_gets_a_text_error_with_a_code_and_nothing_is_created(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let key = api_key(&app, &user.token).await;
    let no_module = tar_code(&[("other.py", ISPRIME)]);
    let with = |patch: Value| {
        let mut body = isprime_create();
        for (name, value) in patch.as_object().expect("object") {
            body[name] = value.clone();
        }
        body
    };
    let cases = [
        (
            with(json!({"Runtime": "cobol"})),
            StatusCode::NOT_FOUND,
            "INVALID_RUNTIME",
        ),
        (
            with(json!({"Runtime": "custom", "TarFunctionCode": ""})),
            StatusCode::BAD_REQUEST,
            "CUSTOM_IMAGE_MISSING",
        ),
        (
            with(json!({"Runtime": "custom", "CustomImage": "Bad//Image", "TarFunctionCode": ""})),
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
        ),
        (
            // The image holds the code: an archive beside it is refused, not silently dropped.
            with(json!({"Runtime": "custom", "CustomImage": "team/echo:1"})),
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
        ),
        (
            with(json!({"MemoryMB": 0})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_MEMORY",
        ),
        (
            with(json!({"CPUDemand": 8.0})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_CPU",
        ),
        (
            with(json!({"Handler": ""})),
            StatusCode::BAD_REQUEST,
            "HANDLER_MISSING",
        ),
        (
            with(json!({"Handler": "nodot"})),
            StatusCode::BAD_REQUEST,
            "INVALID_HANDLER",
        ),
        (
            with(json!({"TarFunctionCode": ""})),
            StatusCode::BAD_REQUEST,
            "CODE_MISSING",
        ),
        (
            with(json!({"TarFunctionCode": "%%%"})),
            StatusCode::BAD_REQUEST,
            "INVALID_CODE",
        ),
        (
            with(json!({"TarFunctionCode": "aGVsbG8="})),
            StatusCode::BAD_REQUEST,
            "UNSUPPORTED_ARCHIVE",
        ),
        (
            with(json!({"TarFunctionCode": no_module})),
            StatusCode::BAD_REQUEST,
            "ENTRY_POINT_MISSING",
        ),
        (
            with(json!({"Name": "bad name!"})),
            StatusCode::BAD_REQUEST,
            "INVALID_NAME",
        ),
        (
            with(json!({"MemoryMB": "lots"})),
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
        ),
        (json!([1, 2]), StatusCode::BAD_REQUEST, "INVALID_JSON"),
    ];
    for (body, status, code) in cases {
        let response = call(&app, Method::POST, "/create", &key, Some(body)).await;
        assert_text_error(response, status, code).await;
    }
    let broken = app
        .client
        .post(app.url("/create"))
        .bearer_auth(&key)
        .body("{\"Name\":")
        .send()
        .await
        .expect("sent");
    assert_text_error(broken, StatusCode::BAD_REQUEST, "INVALID_JSON").await;
    let names: Value = call(&app, Method::GET, "/function", &key, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(names, json!([]), "nothing was created");

    assert_eq!(
        call(&app, Method::POST, "/create", &key, Some(isprime_create()))
            .await
            .status(),
        StatusCode::OK
    );
    let bad_params = call(
        &app,
        Method::POST,
        "/invoke/isprime",
        &key,
        Some(json!({"Params": [1]})),
    )
    .await;
    assert_text_error(bad_params, StatusCode::BAD_REQUEST, "INVALID_PARAMS").await;
    let bad_qos = call(
        &app,
        Method::POST,
        "/invoke/isprime",
        &key,
        Some(json!({"QoSMaxRespT": "soon"})),
    )
    .await;
    assert_text_error(bad_qos, StatusCode::BAD_REQUEST, "INVALID_FIELD").await;
    let no_limit = call(
        &app,
        Method::POST,
        "/invoke/isprime",
        &key,
        Some(json!({"QoSMaxRespT": -1, "Async": true})),
    )
    .await;
    assert_eq!(
        no_limit.status(),
        StatusCode::OK,
        "-1 (the CLI's default) means no limit"
    );
    let unknown = call(&app, Method::POST, "/invoke/nope", &key, Some(json!({}))).await;
    assert_text_error(unknown, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;
    let unknown = call(
        &app,
        Method::POST,
        "/delete",
        &key,
        Some(json!({"Name": "nope"})),
    )
    .await;
    assert_text_error(unknown, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;
    let unknown = call(
        &app,
        Method::POST,
        "/prewarm",
        &key,
        Some(json!({"Function": "nope", "Instances": 1})),
    )
    .await;
    assert_text_error(unknown, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;
    let negative = call(
        &app,
        Method::POST,
        "/prewarm",
        &key,
        Some(json!({"Function": "isprime", "Instances": -1})),
    )
    .await;
    assert_text_error(negative, StatusCode::BAD_REQUEST, "INVALID_INSTANCES").await;
    let prewarmed = call(
        &app,
        Method::POST,
        "/prewarm",
        &key,
        Some(json!({"Function": "isprime", "Instances": 0})),
    )
    .await;
    assert_eq!(
        prewarmed.json::<Value>().await.expect("json"),
        json!({"Prewarmed": 0})
    );
    for req_id in ["isprime-98330239242748", "x"] {
        let response = call(&app, Method::GET, &format!("/poll/{req_id}"), &key, None).await;
        assert_text_error(response, StatusCode::NOT_FOUND, "RESULT_NOT_FOUND").await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn keys_go_in_bearer_or_basic_and_accounts_never_see_each_other(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.signup("alice@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let alice_key = api_key(&app, &alice.token).await;
    let bob_key = api_key(&app, &bob.token).await;

    let anonymous = app
        .client
        .get(app.url("/function"))
        .send()
        .await
        .expect("sent");
    assert!(anonymous.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .contains("Basic"));
    assert_text_error(anonymous, StatusCode::UNAUTHORIZED, "NEEDS_LOGIN").await;
    let forged = call(
        &app,
        Method::GET,
        "/function",
        "canopy_0000000000000000000000000000000000000000",
        None,
    )
    .await;
    assert_text_error(forged, StatusCode::UNAUTHORIZED, "NEEDS_LOGIN").await;
    let created = app
        .client
        .post(app.url("/create"))
        .basic_auth(&alice_key, None::<&str>)
        .json(&isprime_create())
        .send()
        .await
        .expect("sent");
    assert_eq!(
        created.status(),
        StatusCode::OK,
        "the key as the Basic user name (KEY@host)"
    );
    let by_password = app
        .client
        .get(app.url("/function"))
        .basic_auth("serverledge", Some(&alice_key))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        by_password.json::<Value>().await.expect("json"),
        json!(["isprime"])
    );
    let by_token = call(&app, Method::GET, "/function", &alice.token, None).await;
    assert_eq!(
        by_token.json::<Value>().await.expect("json"),
        json!(["isprime"]),
        "an access token works too"
    );

    // Bob sees nothing of Alice's and can use the same name.
    let names: Value = call(&app, Method::GET, "/function", &bob_key, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(names, json!([]));
    for (path, body) in [
        ("/invoke/isprime", json!({})),
        ("/delete", json!({"Name": "isprime"})),
        ("/prewarm", json!({"Function": "isprime"})),
    ] {
        let response = call(&app, Method::POST, path, &bob_key, Some(body)).await;
        assert_text_error(response, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;
    }
    let accepted: Value = call(
        &app,
        Method::POST,
        "/invoke/isprime",
        &alice_key,
        Some(json!({"Async": true})),
    )
    .await
    .json()
    .await
    .expect("json");
    let req_id = accepted["ReqId"].as_str().expect("ReqId");
    let peek = call(
        &app,
        Method::GET,
        &format!("/poll/{req_id}"),
        &bob_key,
        None,
    )
    .await;
    assert_text_error(peek, StatusCode::NOT_FOUND, "RESULT_NOT_FOUND").await;
    let mine = call(
        &app,
        Method::POST,
        "/create",
        &bob_key,
        Some(isprime_create()),
    )
    .await;
    assert_eq!(mine.status(), StatusCode::OK, "names are per account");

    // A revoked key stops working at once, even though it was just used.
    let keys: Value = app
        .get("/v1/user", &alice.token)
        .await
        .json()
        .await
        .expect("json");
    let key_id = keys["apiKeys"][0]["id"].as_str().expect("id");
    let revoked = app
        .send(
            Method::DELETE,
            &format!("/v1/user/apiKey/{key_id}"),
            Some(&alice.token),
            None,
        )
        .await;
    assert!(revoked.status().is_success());
    let after = call(&app, Method::GET, "/function", &alice_key, None).await;
    assert_text_error(after, StatusCode::UNAUTHORIZED, "NEEDS_LOGIN").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn the_facade_also_listens_alone_on_its_own_port(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| {
        settings.serverledge.serverledge_listen = Some("127.0.0.1:0".parse().expect("address"));
    })
    .await;
    let user = app.signup("dev@example.com").await;
    let key = api_key(&app, &user.token).await;
    let base = app.serverledge_address.clone().expect("a second listener");
    let created = app
        .client
        .post(format!("{base}/create"))
        .basic_auth(&key, None::<&str>)
        .json(&isprime_create())
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status(), StatusCode::OK);
    let names: Value = call(&app, Method::GET, "/function", &key, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        names,
        json!(["isprime"]),
        "the same facade on both listeners"
    );
    for path in ["/v1/function/list", "/nope"] {
        let response = app
            .client
            .get(format!("{base}{path}"))
            .bearer_auth(&user.token)
            .send()
            .await
            .expect("sent");
        assert_text_error(response, StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND").await;
    }
}
