//! Who may run whose tasks (docs/security.md): a node runs its owner's tasks, its owner's pools'
//! and, when offered as a volunteer, those of functions that allow volunteers; code goes only to
//! a node that holds a task using it; privileged functions need an admin's approval.

use std::time::Duration;

use canopy_dispatcher::cli::CreateAdmin;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::fake_worker::{deployed_function, register_node, resources, FakeWorker};
use crate::helpers::{assert_invalid_field, assert_problem, id_of, TestApp, TestUser};
use crate::reliability::create;

const QUIET: Duration = Duration::from_millis(800);

/// A connected worker of `user` holding `credits`.
async fn worker_of(app: &TestApp, user: &TestUser, credits: u32) -> (String, String, FakeWorker) {
    let (node, token) = register_node(app, &user.token).await;
    let mut worker = FakeWorker::connect(app, &node, &token, resources(1024)).await;
    worker.pull(credits).await;
    (node, token, worker)
}

/// Signs in an admin account; returns its token.
async fn admin(app: &TestApp) -> String {
    let args = CreateAdmin {
        email: "root@example.com".to_owned(),
        password: "Adm1n!pass".to_owned(),
        name: "Admin".to_owned(),
        surname: "Canopy".to_owned(),
    };
    canopy_dispatcher::admin::create_admin(&app.pool, &args)
        .await
        .expect("admin created");
    let login: Value = app
        .login("root@example.com", "Adm1n!pass", None)
        .await
        .json()
        .await
        .expect("json");
    login["accessToken"].as_str().expect("token").to_owned()
}

async fn account_id(app: &TestApp, user: &TestUser) -> String {
    let me: Value = app
        .get("/v1/user", &user.token)
        .await
        .json()
        .await
        .expect("json");
    me["id"].as_str().expect("id").to_owned()
}

async fn task_view(app: &TestApp, token: &str, task: &str) -> Value {
    app.get(&format!("/v1/task/{task}"), token)
        .await
        .json()
        .await
        .expect("json")
}

async fn allow_volunteers(app: &TestApp, token: &str, function: &str) {
    let response = app
        .post(
            &format!("/v1/function/{function}/capabilities"),
            Some(token),
            json!({"volunteers": true}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[sqlx::test(migrations = "../migrations")]
async fn another_accounts_node_never_gets_a_task_and_the_pending_reason_says_why(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.signup("alice@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let function = deployed_function(&app, &alice.token).await;
    let (_, _, mut strangers) = worker_of(&app, &bob, 4).await;

    let task = create(&app, &alice.token, &function).await;
    assert!(
        strangers.stays_quiet(QUIET).await,
        "bob's node got alice's task"
    );
    let view = task_view(&app, &alice.token, &task).await;
    assert_eq!(view["status"], "queued");
    assert_eq!(
        view["pendingReason"],
        "no node of this account or its pools is connected (capability volunteers is off)"
    );

    let (_, _, mut own) = worker_of(&app, &alice, 4).await;
    assert_eq!(own.expect_assign().await.task_id, task);
    assert!(strangers.stays_quiet(QUIET).await);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_volunteer_node_runs_only_tasks_of_functions_that_allow_volunteers(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.signup("alice@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let function = deployed_function(&app, &alice.token).await;
    let (node, _, mut volunteer) = worker_of(&app, &bob, 4).await;

    // Offered while connected: the session follows without reconnecting.
    let response = app
        .post(
            &format!("/v1/node/{node}/volunteer"),
            Some(&bob.token),
            json!({"volunteer": true}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let listed: Value = app
        .get("/v1/node/list", &bob.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed[0]["volunteer"], true);

    let private = create(&app, &alice.token, &function).await;
    assert!(
        volunteer.stays_quiet(QUIET).await,
        "a volunteer ran a function that did not opt in"
    );
    let reason = task_view(&app, &alice.token, &private).await["pendingReason"].clone();
    assert_eq!(
        reason,
        "no node of this account or its pools is connected (capability volunteers is off)"
    );

    allow_volunteers(&app, &alice.token, &function).await;
    let shared = create(&app, &alice.token, &function).await;
    let assignment = volunteer.expect_assign().await;
    assert_eq!(assignment.task_id, shared);
    assert!(assignment.function.capabilities.volunteers);
    // The task issued before the opt-in keeps its snapshot and keeps waiting.
    assert!(volunteer.stays_quiet(QUIET).await);
    assert_eq!(
        task_view(&app, &alice.token, &private).await["status"],
        "queued"
    );

    // Withdrawn: new tasks no longer go there.
    let response = app
        .post(
            &format!("/v1/node/{node}/volunteer"),
            Some(&bob.token),
            json!({"volunteer": false}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_millis(300)).await;
    create(&app, &alice.token, &function).await;
    assert!(volunteer.stays_quiet(QUIET).await);
}

#[sqlx::test(migrations = "../migrations")]
async fn pool_members_nodes_run_each_others_tasks_until_the_pool_goes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let root = admin(&app).await;
    let alice = app.signup("alice@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let function = deployed_function(&app, &alice.token).await;
    let (_, _, mut partner) = worker_of(&app, &bob, 4).await;

    let queued = create(&app, &alice.token, &function).await;
    assert!(partner.stays_quiet(QUIET).await);
    let members = vec![account_id(&app, &alice).await, account_id(&app, &bob).await];
    let response = app
        .post(
            "/v1/admin/pool",
            Some(&root),
            json!({"name": "lab", "description": "the lab's machines", "members": members}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let pool_id = id_of(response).await;
    // The connected node learns of the pool and takes the task that was waiting.
    assert_eq!(partner.expect_assign().await.task_id, queued);

    let listed: Value = app
        .get("/v1/admin/pool/list", &root)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed["results"][0]["name"], "lab");
    assert_eq!(
        listed["results"][0]["members"].as_array().map(Vec::len),
        Some(2)
    );

    let response = app
        .send(
            reqwest::Method::DELETE,
            &format!("/v1/admin/pool/{pool_id}"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_millis(300)).await;
    create(&app, &alice.token, &function).await;
    assert!(
        partner.stays_quiet(QUIET).await,
        "a former pool partner still gets tasks"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_node_downloads_code_only_while_it_holds_a_task_that_uses_it(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.signup("alice@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let function = deployed_function(&app, &alice.token).await;
    let (_, alice_token, mut worker) = worker_of(&app, &alice, 1).await;
    let (_, bob_token, _bob_worker) = worker_of(&app, &bob, 1).await;

    let task = create(&app, &alice.token, &function).await;
    let assignment = worker.expect_assign().await;
    let sha = assignment.function.artifact_sha256.clone();
    let download = |token: String| {
        let request = app
            .client
            .get(app.url(&format!("/v1/worker/artifact/{sha}")))
            .bearer_auth(token);
        async move { request.send().await.expect("sent") }
    };
    assert_eq!(download(alice_token.clone()).await.status(), StatusCode::OK);
    assert_problem(
        download(bob_token).await,
        StatusCode::NOT_FOUND,
        "ARTIFACT_NOT_FOUND",
    )
    .await;

    // A forged HTML result cannot script the API's origin.
    worker
        .respond(&assignment, 200, "text/html", b"<script>steal()</script>")
        .await;
    let result = app
        .get(&format!("/v1/task/{task}/result?wait=10"), &alice.token)
        .await;
    assert_eq!(result.status(), StatusCode::OK);
    assert_eq!(result.headers()["x-content-type-options"], "nosniff");
    let policy = result.headers()["content-security-policy"]
        .to_str()
        .unwrap_or("");
    assert!(policy.starts_with("sandbox"), "policy {policy:?}");

    // Finished (the task's view waits for the result's write): the node holds no task using
    // the code any more.
    assert_eq!(
        task_view(&app, &alice.token, &task).await["status"],
        "succeeded"
    );
    assert_problem(
        download(alice_token).await,
        StatusCode::NOT_FOUND,
        "ARTIFACT_NOT_FOUND",
    )
    .await;
}

#[sqlx::test(migrations = "../migrations")]
async fn privileged_functions_need_an_admins_approval_of_the_account(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let root = admin(&app).await;
    let alice = app.signup("alice@example.com").await;
    let function = app.create_function_in(&alice.token, "Root", "PY").await;
    let capabilities = format!("/v1/function/{function}/capabilities");
    let ask = || {
        app.post(
            &capabilities,
            Some(&alice.token),
            json!({"privilaged": true}),
        )
    };
    assert_problem(
        ask().await,
        StatusCode::FORBIDDEN,
        "PRIVILEGED_NOT_APPROVED",
    )
    .await;

    let alice_id = account_id(&app, &alice).await;
    let (app_ref, root_ref) = (&app, &root);
    let approve = |account: String| {
        let path = format!("/v1/admin/account/{account}/privileged");
        async move {
            app_ref
                .post(&path, Some(root_ref), json!({"approved": true}))
                .await
        }
    };
    let by_user = app
        .post(
            &format!("/v1/admin/account/{alice_id}/privileged"),
            Some(&alice.token),
            json!({"approved": true}),
        )
        .await;
    assert_problem(by_user, StatusCode::FORBIDDEN, "ADMIN_REQUIRED").await;
    let unknown = canopy_shared::format_id(canopy_shared::new_id());
    assert_problem(
        approve(unknown).await,
        StatusCode::NOT_FOUND,
        "ACCOUNT_NOT_FOUND",
    )
    .await;
    assert_eq!(approve(alice_id).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(ask().await.status(), StatusCode::NO_CONTENT);
    let caps: Value = app
        .get(
            &format!("/v1/function/{function}/capabilities"),
            &alice.token,
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(caps["privileged"], true);
}

#[sqlx::test(migrations = "../migrations")]
async fn trust_settings_reject_bad_input_with_specific_codes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let root = admin(&app).await;
    let alice = app.signup("alice@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let (node, _) = register_node(&app, &alice.token).await;

    // Volunteer flag: only the owner (another account's node is a 404), a boolean body.
    let path = format!("/v1/node/{node}/volunteer");
    let foreign = app
        .post(&path, Some(&bob.token), json!({"volunteer": true}))
        .await;
    assert_problem(foreign, StatusCode::NOT_FOUND, "NODE_NOT_FOUND").await;
    let not_bool = app
        .post(&path, Some(&alice.token), json!({"volunteer": "yes"}))
        .await;
    assert_eq!(not_bool.status(), StatusCode::BAD_REQUEST);
    let missing = app.post(&path, Some(&alice.token), json!({})).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let malformed = app
        .post(
            "/v1/node/nothex/volunteer",
            Some(&alice.token),
            json!({"volunteer": true}),
        )
        .await;
    assert_invalid_field(malformed, "hash").await;

    // Pools: admins only, validated names and members, unique names.
    let by_user = app
        .post("/v1/admin/pool", Some(&alice.token), json!({"name": "x"}))
        .await;
    assert_problem(by_user, StatusCode::FORBIDDEN, "ADMIN_REQUIRED").await;
    let bad_name = app
        .post("/v1/admin/pool", Some(&root), json!({"name": "a b"}))
        .await;
    assert_invalid_field(bad_name, "name").await;
    let bad_member = app
        .post(
            "/v1/admin/pool",
            Some(&root),
            json!({"name": "lab", "members": ["zz"]}),
        )
        .await;
    assert_invalid_field(bad_member, "members").await;
    let ghost = canopy_shared::format_id(canopy_shared::new_id());
    let unknown_member = app
        .post(
            "/v1/admin/pool",
            Some(&root),
            json!({"name": "lab", "members": [ghost]}),
        )
        .await;
    assert_invalid_field(unknown_member, "members").await;
    let first = app
        .post("/v1/admin/pool", Some(&root), json!({"name": "lab"}))
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let again = app
        .post("/v1/admin/pool", Some(&root), json!({"name": "lab"}))
        .await;
    assert_problem(again, StatusCode::CONFLICT, "POOL_EXISTS").await;
    let missing_pool = app
        .send(
            reqwest::Method::PUT,
            &format!("/v1/admin/pool/{ghost}/members"),
            Some(&root),
            Some(json!({"members": []})),
        )
        .await;
    assert_problem(missing_pool, StatusCode::NOT_FOUND, "POOL_NOT_FOUND").await;
    let delete_missing = app
        .send(
            reqwest::Method::DELETE,
            &format!("/v1/admin/pool/{ghost}"),
            Some(&root),
            None,
        )
        .await;
    assert_problem(delete_missing, StatusCode::NOT_FOUND, "POOL_NOT_FOUND").await;
}
