//! k-of-n result verification (docs/security.md): a task of a function with a quorum runs on
//! volunteer nodes of different owners, one after another, until `quorum` answers agree; the
//! agreeing answer is its result, and the nodes' trust scores move with their votes.

use std::time::Duration;

use canopy_shared::protocol::Assignment;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::fake_worker::{deployed_function, register_node, resources, FakeWorker};
use crate::helpers::{assert_invalid_field, assert_problem, TestApp, TestUser};
use crate::reliability::create;

const QUIET: Duration = Duration::from_millis(600);

/// A volunteer node of `user`, connected, with one credit.
async fn volunteer(app: &TestApp, user: &TestUser) -> (String, FakeWorker) {
    let (node, token) = register_node(app, &user.token).await;
    let offered = app
        .post(
            &format!("/v1/node/{node}/volunteer"),
            Some(&user.token),
            json!({"volunteer": true}),
        )
        .await;
    assert_eq!(offered.status(), StatusCode::NO_CONTENT);
    let mut worker = FakeWorker::connect(app, &node, &token, resources(1024)).await;
    worker.pull(1).await;
    (node, worker)
}

/// A function of `owner` that allows volunteers and asks for this quorum.
async fn verified_function(app: &TestApp, owner: &TestUser, quorum: u32, runs: u32) -> String {
    let function = deployed_function(app, &owner.token).await;
    let allowed = app
        .post(
            &format!("/v1/function/{function}/capabilities"),
            Some(&owner.token),
            json!({"volunteers": true}),
        )
        .await;
    assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
    let set = put_verification(
        app,
        &owner.token,
        &function,
        json!({"quorum": quorum, "maxRuns": runs}),
    )
    .await;
    assert_eq!(set.status(), StatusCode::OK);
    function
}

async fn put_verification(
    app: &TestApp,
    token: &str,
    function: &str,
    body: Value,
) -> reqwest::Response {
    app.send(
        Method::PUT,
        &format!("/v1/function/{function}/verification"),
        Some(token),
        Some(body),
    )
    .await
}

async fn answer(worker: &mut FakeWorker, assignment: &Assignment, body: &[u8]) {
    worker
        .respond_and_regrant(assignment, 200, "text/plain", body, true)
        .await;
}

async fn json_of(app: &TestApp, path: &str, token: &str) -> Value {
    app.get(path, token).await.json().await.expect("json")
}

/// Polls the task until no node holds it (its vote counted: ended, or queued for the next run).
async fn released(app: &TestApp, token: &str, task: &str) -> Value {
    for _ in 0..200 {
        let view = json_of(app, &format!("/v1/task/{task}"), token).await;
        if !matches!(view["status"].as_str(), Some("assigned" | "running")) {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {task} is still held");
}

/// Polls the task until it ends.
async fn ended(app: &TestApp, token: &str, task: &str) -> Value {
    for _ in 0..100 {
        let view = json_of(app, &format!("/v1/task/{task}"), token).await;
        if !matches!(
            view["status"].as_str(),
            Some("queued" | "assigned" | "running")
        ) {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {task} did not end");
}

fn node_of<'a>(nodes: &'a Value, id: &str) -> &'a Value {
    nodes
        .as_array()
        .and_then(|nodes| nodes.iter().find(|node| node["hash"] == id))
        .expect("the node is listed")
}

#[sqlx::test(migrations = "../migrations")]
async fn runs_go_to_other_owners_until_two_answers_agree_and_scores_follow_the_votes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let owner = app.signup("owner@example.com").await;
    let (bob, carol, dave) = (
        app.signup("bob@example.com").await,
        app.signup("carol@example.com").await,
        app.signup("dave@example.com").await,
    );
    let function = verified_function(&app, &owner, 2, 3).await;
    let (bob_node, mut bob_worker) = volunteer(&app, &bob).await;
    let task = create(&app, &owner.token, &function).await;

    // Run 1 on Bob's node. Its answer is a vote, not the result: the task goes back to the queue.
    let first = bob_worker.expect_assign().await;
    assert_eq!((first.task_id.as_str(), first.attempt), (task.as_str(), 1));
    answer(&mut bob_worker, &first, b"42").await;
    assert_eq!(
        released(&app, &owner.token, &task).await["status"],
        "queued",
        "one vote is not a quorum: the task waits for another owner's node"
    );
    assert!(
        bob_worker.stays_quiet(QUIET).await,
        "a node of an owner that voted is never asked again"
    );

    // Run 2 on Carol's node disagrees; run 3 on Dave's agrees with Bob.
    let (carol_node, mut carol_worker) = volunteer(&app, &carol).await;
    let second = carol_worker.expect_assign().await;
    assert_eq!(second.attempt, 2);
    answer(&mut carol_worker, &second, b"41").await;
    let (dave_node, mut dave_worker) = volunteer(&app, &dave).await;
    let third = dave_worker.expect_assign().await;
    assert_eq!(third.attempt, 3);
    answer(&mut dave_worker, &third, b"42").await;

    let view = ended(&app, &owner.token, &task).await;
    assert_eq!(view["status"], "succeeded");
    let result = app
        .get(&format!("/v1/task/{task}/result"), &owner.token)
        .await;
    assert_eq!(result.bytes().await.expect("body").as_ref(), b"42");

    let votes = json_of(&app, &format!("/v1/task/{task}/votes"), &owner.token).await;
    assert_eq!(
        (votes["quorum"].as_i64(), votes["maxRuns"].as_i64()),
        (Some(2), Some(3))
    );
    let cast: Vec<(String, Option<bool>)> = votes["votes"]
        .as_array()
        .expect("votes")
        .iter()
        .map(|vote| {
            (
                vote["nodeId"].as_str().unwrap_or("").to_owned(),
                vote["agreed"].as_bool(),
            )
        })
        .collect();
    assert_eq!(
        cast,
        [
            (bob_node.clone(), Some(true)),
            (carol_node.clone(), Some(false)),
            (dave_node.clone(), Some(true))
        ]
    );
    for (user, node, score) in [
        (&bob, &bob_node, 1),
        (&carol, &carol_node, -5),
        (&dave, &dave_node, 1),
    ] {
        let nodes = json_of(&app, "/v1/node/list", &user.token).await;
        assert_eq!(node_of(&nodes, node)["trustScore"], score, "{node}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn without_a_quorum_in_max_runs_the_task_fails_no_quorum(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let owner = app.signup("owner@example.com").await;
    let (bob, carol) = (
        app.signup("bob@example.com").await,
        app.signup("carol@example.com").await,
    );
    let function = verified_function(&app, &owner, 2, 2).await;
    let (_, mut bob_worker) = volunteer(&app, &bob).await;
    let (_, mut carol_worker) = volunteer(&app, &carol).await;
    let task = create(&app, &owner.token, &function).await;
    // Whichever node runs first, the other runs second.
    let mut answers = [b"yes".as_slice(), b"no".as_slice()].into_iter();
    for _ in 0..2 {
        tokio::select! {
            assignment = bob_worker.expect_assign() => answer(&mut bob_worker, &assignment, answers.next().unwrap_or_default()).await,
            assignment = carol_worker.expect_assign() => answer(&mut carol_worker, &assignment, answers.next().unwrap_or_default()).await,
        }
    }
    let view = ended(&app, &owner.token, &task).await;
    assert_eq!(view["status"], "failed");
    assert_eq!(view["error"]["kind"], "no_quorum", "{view}");
    let votes = json_of(&app, &format!("/v1/task/{task}/votes"), &owner.token).await;
    assert_eq!(votes["votes"].as_array().map(Vec::len), Some(2));
    assert!(
        votes["votes"][0]["agreed"].is_null(),
        "no answer was accepted"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_node_whose_score_falls_below_the_minimum_stops_volunteering(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |settings| settings.dispatch.min_trust_score = -1).await;
    let owner = app.signup("owner@example.com").await;
    let (bob, carol, dave) = (
        app.signup("bob@example.com").await,
        app.signup("carol@example.com").await,
        app.signup("dave@example.com").await,
    );
    let function = verified_function(&app, &owner, 2, 3).await;
    let (_, mut carol_worker) = volunteer(&app, &carol).await;
    let task = create(&app, &owner.token, &function).await;
    let lie = carol_worker.expect_assign().await;
    answer(&mut carol_worker, &lie, b"lie").await;
    let (_, mut bob_worker) = volunteer(&app, &bob).await;
    let honest = bob_worker.expect_assign().await;
    answer(&mut bob_worker, &honest, b"truth").await;
    let (_, mut dave_worker) = volunteer(&app, &dave).await;
    let third = dave_worker.expect_assign().await;
    answer(&mut dave_worker, &third, b"truth").await;
    assert_eq!(
        ended(&app, &owner.token, &task).await["status"],
        "succeeded"
    );

    // Carol's node is at -5 now, under the minimum of -1: it no longer gets strangers' tasks.
    let next = create(&app, &owner.token, &function).await;
    assert!(
        carol_worker.stays_quiet(QUIET).await,
        "a node that lied still volunteers"
    );
    let nodes = json_of(&app, "/v1/node/list", &carol.token).await;
    assert_eq!(nodes[0]["trustScore"], -5);
    assert_eq!(nodes[0]["votesDisagreed"], 1);
    let first_run = tokio::select! {
        assignment = bob_worker.expect_assign() => assignment,
        assignment = dave_worker.expect_assign() => assignment,
    };
    assert_eq!(first_run.task_id, next);
}

#[sqlx::test(migrations = "../migrations")]
async fn verification_settings_reject_bad_values_with_the_field(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let owner = app.signup("owner@example.com").await;
    let function = deployed_function(&app, &owner.token).await;
    for (body, field) in [
        (json!({"quorum": 1}), "quorum"),
        (json!({"quorum": 6}), "quorum"),
        (json!({"quorum": 2, "maxRuns": 1}), "maxRuns"),
        (json!({"quorum": 2, "maxRuns": 11}), "maxRuns"),
        (json!({"quorum": 0, "maxRuns": 3}), "maxRuns"),
    ] {
        let response = put_verification(&app, &owner.token, &function, body.clone()).await;
        assert_invalid_field(response, field).await;
    }
    let unknown =
        put_verification(&app, &owner.token, &function, json!({"quorum": 2, "k": 3})).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let wrong_type =
        put_verification(&app, &owner.token, &function, json!({"quorum": "two"})).await;
    assert_eq!(wrong_type.status(), StatusCode::BAD_REQUEST);

    // The default of most runs is twice the quorum; another account sees no such function.
    let set: Value = put_verification(&app, &owner.token, &function, json!({"quorum": 3}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(set, json!({"quorum": 3, "maxRuns": 6}));
    let read = json_of(
        &app,
        &format!("/v1/function/{function}/verification"),
        &owner.token,
    )
    .await;
    assert_eq!(read, set);
    let stranger = app.signup("stranger@example.com").await;
    let response = put_verification(&app, &stranger.token, &function, json!({"quorum": 2})).await;
    assert_problem(response, StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND").await;
}
