//! The function API's happy paths with the seed's example bodies, pause, soft delete, restore.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{assert_problem, TestApp};

#[sqlx::test(migrations = "../migrations")]
async fn create_then_get_returns_the_contract_shape(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let tag = app.create_tag(&user.token, "greencloud", "#00ff80").await;
    let id = app
        .create_function(&user.token, "MyFunction", &[&tag])
        .await;

    let response = app.get(&format!("/v1/function/{id}"), &user.token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["id"], id);
    assert_eq!(body["name"], "MyFunction");
    assert_eq!(body["description"], "My function description");
    assert_eq!(body["type"], "docker");
    assert_eq!(body["lang"], "go");
    assert_eq!(
        body["tags"],
        json!([{"id": tag, "name": "greencloud", "color": "#00ff80"}])
    );
    assert_eq!(
        body["capabilities"],
        json!({"timeout": 10, "cpuCount": 0, "memSize": 0, "networkLatency": 0, "privileged": false, "volunteers": false})
    );
    assert_eq!(
        body["metrics"],
        json!({"todaysTasks": 0, "pendingTasks": 0, "weekTasks": 0, "completedTasks": 0})
    );
    assert_eq!(body["paused"], false);
    let created: i64 = body["createdAt"]
        .as_str()
        .expect("unix string")
        .parse()
        .expect("digits");
    assert!((created - chrono::Utc::now().timestamp()).abs() < 60);
}

#[sqlx::test(migrations = "../migrations")]
async fn create_answers_201_with_a_location(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let body = json!({"name": "MyFunction", "lang": "PY", "type": "DOCKER"});
    let response = app.post("/v1/function", Some(&user.token), body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"]
        .to_str()
        .expect("text")
        .to_owned();
    let id = crate::helpers::id_of(response).await;
    assert_eq!(location, format!("/v1/function/{id}"));
}

#[sqlx::test(migrations = "../migrations")]
async fn edit_changes_name_description_and_tags(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let first = app.create_tag(&user.token, "first", "#111111").await;
    let second = app.create_tag(&user.token, "second", "#222222").await;
    let id = app
        .create_function(&user.token, "MyFunction", &[&first])
        .await;

    let edit = json!({"name": "Renamed2", "description": "New text", "tag": [second]});
    let response = app
        .send(
            Method::PATCH,
            &format!("/v1/function/{id}"),
            Some(&user.token),
            Some(edit),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let body: Value = app
        .get(&format!("/v1/function/{id}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["name"], "Renamed2");
    assert_eq!(body["description"], "New text");
    let tag_ids: Vec<&str> = body["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(tag_ids, vec![second.as_str()]);

    // Fields left out keep their value.
    let response = app
        .send(
            Method::PATCH,
            &format!("/v1/function/{id}"),
            Some(&user.token),
            Some(json!({"name": "Again"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let body: Value = app
        .get(&format!("/v1/function/{id}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["name"], "Again");
    assert_eq!(body["description"], "New text");
    assert_eq!(body["tags"].as_array().map(Vec::len), Some(1));
}

#[sqlx::test(migrations = "../migrations")]
async fn list_returns_a_bare_array_of_the_callers_functions(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let first = app.create_function(&user.token, "MyFunction", &[]).await;
    let second = app.create_function(&user.token, "MyFunction2", &[]).await;

    let response = app.get("/v1/function/list", &user.token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("x-next-cursor").is_none());
    let body: Value = response.json().await.expect("json");
    let list = body.as_array().expect("a bare array");
    let ids: Vec<&str> = list.iter().filter_map(|f| f["id"].as_str()).collect();
    assert_eq!(ids, vec![first.as_str(), second.as_str()]);
    for key in ["id", "name", "description", "lang", "tags", "createdAt"] {
        assert!(list[0].get(key).is_some(), "list entries carry {key}");
    }
    assert_eq!(list[1]["lang"], "go");
}

#[sqlx::test(migrations = "../migrations")]
async fn list_pages_with_limit_and_cursor(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let mut ids = Vec::new();
    for index in 0..5 {
        ids.push(
            app.create_function(&user.token, &format!("F{index}"), &[])
                .await,
        );
    }
    let mut seen = Vec::new();
    let mut path = "/v1/function/list?limit=2".to_owned();
    loop {
        let response = app.get(&path, &user.token).await;
        assert_eq!(response.status(), StatusCode::OK);
        let next = response
            .headers()
            .get("x-next-cursor")
            .map(|v| v.to_str().expect("text").to_owned());
        let page: Vec<Value> = response.json().await.expect("json");
        assert!(page.len() <= 2);
        seen.extend(
            page.iter()
                .filter_map(|f| f["id"].as_str().map(str::to_owned)),
        );
        match next {
            Some(cursor) => path = format!("/v1/function/list?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
}

#[sqlx::test(migrations = "../migrations")]
async fn list_by_tag_returns_only_tagged_functions(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let tag = app.create_tag(&user.token, "greencloud", "#00ff80").await;
    let other = app.create_tag(&user.token, "other", "#ff0000").await;
    let tagged = app
        .create_function(&user.token, "Tagged", &[&tag, &other])
        .await;
    app.create_function(&user.token, "Untagged", &[]).await;
    app.create_function(&user.token, "OtherTag", &[&other])
        .await;

    let body: Value = app
        .get(&format!("/v1/function/list?tag={tag}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    let ids: Vec<&str> = body
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(ids, vec![tagged.as_str()]);
    assert_eq!(
        body[0]["tags"].as_array().map(Vec::len),
        Some(2),
        "all of the function's tags are shown"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn toggle_pause_flips_paused_each_time(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let id = app.create_function(&user.token, "MyFunction", &[]).await;
    for expected in [true, false, true] {
        let response = app
            .send(
                Method::POST,
                &format!("/v1/function/{id}/togglePause"),
                Some(&user.token),
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let body: Value = app
            .get(&format!("/v1/function/{id}"), &user.token)
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(body["paused"], expected);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn delete_is_soft_and_restore_brings_the_function_back(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let tag = app.create_tag(&user.token, "keep", "#00ff80").await;
    let id = app
        .create_function(&user.token, "MyFunction", &[&tag])
        .await;
    let path = format!("/v1/function/{id}");

    let response = app
        .send(Method::DELETE, &path, Some(&user.token), None)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get(&path, &user.token).await,
        StatusCode::NOT_FOUND,
        "FUNCTION_NOT_FOUND",
    )
    .await;
    let list: Vec<Value> = app
        .get("/v1/function/list", &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert!(list.is_empty());
    // Deleting twice is a 404: it is already gone.
    let again = app
        .send(Method::DELETE, &path, Some(&user.token), None)
        .await;
    assert_problem(again, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;

    let response = app
        .send(
            Method::POST,
            &format!("{path}/restore"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let body: Value = app
        .get(&path, &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["name"], "MyFunction");
    assert_eq!(
        body["tags"][0]["id"], tag,
        "tags survive a delete and restore"
    );

    // Restoring a live function is a 404: there is no deleted function with that id.
    let again = app
        .send(
            Method::POST,
            &format!("{path}/restore"),
            Some(&user.token),
            None,
        )
        .await;
    assert_problem(again, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn capabilities_are_set_partially_and_read_back(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let id = app.create_function(&user.token, "MyFunction", &[]).await;
    let path = format!("/v1/function/{id}/capabilities");

    // The seed's example request asks for privileged, which needs an admin's approval of the
    // account (docs/security.md): refused whole until then.
    let body = json!({"timeout": 10, "cpuCount": 1, "memSize": 1024, "privileged": true});
    let refused = app.post(&path, Some(&user.token), body.clone()).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "PRIVILEGED_NOT_APPROVED").await;
    sqlx::query("UPDATE accounts SET privileged_approved = true")
        .execute(&app.pool)
        .await
        .expect("approved");
    assert_eq!(
        app.post(&path, Some(&user.token), body).await.status(),
        StatusCode::NO_CONTENT
    );
    let read: Value = app
        .get(&path, &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        read,
        json!({"timeout": 10, "cpuCount": 1, "memSize": 1024, "networkLatency": 0, "privileged": true, "volunteers": false})
    );

    // The table's spelling, networkLatency, and boundaries; omitted fields are kept.
    let body = json!({"privilaged": false, "networkLatency": 50, "timeout": 120, "cpuCount": 4, "memSize": 2048});
    assert_eq!(
        app.post(&path, Some(&user.token), body).await.status(),
        StatusCode::NO_CONTENT
    );
    let body = json!({"cpuCount": 0});
    assert_eq!(
        app.post(&path, Some(&user.token), body).await.status(),
        StatusCode::NO_CONTENT
    );
    let read: Value = app
        .get(&path, &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        read,
        json!({"timeout": 120, "cpuCount": 0, "memSize": 2048, "networkLatency": 50, "privileged": false, "volunteers": false})
    );
    let function: Value = app
        .get(&format!("/v1/function/{id}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(function["capabilities"], read);
}

#[sqlx::test(migrations = "../migrations")]
async fn another_accounts_function_is_a_404_everywhere(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let owner = app.signup("owner@example.com").await;
    let intruder = app.signup("intruder@example.com").await;
    let id = app.create_function(&owner.token, "Private", &[]).await;
    let token = Some(intruder.token.as_str());

    let calls = [
        (Method::GET, format!("/v1/function/{id}"), None),
        (
            Method::PATCH,
            format!("/v1/function/{id}"),
            Some(json!({"name": "Stolen"})),
        ),
        (Method::POST, format!("/v1/function/{id}/togglePause"), None),
        (Method::GET, format!("/v1/function/{id}/capabilities"), None),
        (
            Method::POST,
            format!("/v1/function/{id}/capabilities"),
            Some(json!({"timeout": 20})),
        ),
        (Method::DELETE, format!("/v1/function/{id}"), None),
        (Method::POST, format!("/v1/function/{id}/restore"), None),
    ];
    for (method, path, body) in calls {
        let response = app.send(method.clone(), &path, token, body).await;
        assert_problem(response, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;
    }
    let list: Vec<Value> = app
        .get("/v1/function/list", &intruder.token)
        .await
        .json()
        .await
        .expect("json");
    assert!(
        list.is_empty(),
        "another account's functions are not listed"
    );

    let body: Value = app
        .get(&format!("/v1/function/{id}"), &owner.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["name"], "Private");
    assert_eq!(body["paused"], false);
    assert_eq!(body["capabilities"]["timeout"], 10);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_function_cannot_carry_another_accounts_tag(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let owner = app.signup("owner@example.com").await;
    let other = app.signup("other@example.com").await;
    let foreign = app.create_tag(&owner.token, "mine", "#00ff80").await;
    let own = app.create_tag(&other.token, "ours", "#00ff80").await;

    let body = json!({"name": "Fn", "tag": [own, foreign], "lang": "GO", "type": "DOCKER"});
    let response = app.post("/v1/function", Some(&other.token), body).await;
    crate::helpers::assert_invalid_field(response, "tag[1]").await;

    let id = app.create_function(&other.token, "Fn", &[&own]).await;
    let edit = json!({"tag": [foreign]});
    let response = app
        .send(
            Method::PATCH,
            &format!("/v1/function/{id}"),
            Some(&other.token),
            Some(edit),
        )
        .await;
    crate::helpers::assert_invalid_field(response, "tag[0]").await;
    let list: Vec<Value> = app
        .get("/v1/function/list", &other.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list.len(), 1, "the refused create left nothing behind");
}
