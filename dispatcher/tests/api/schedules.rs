//! Schedules: the API, exactly one task per tick across replicas and a crash, missed ticks
//! after downtime, DST in the schedule's timezone, and bad input.

use canopy_dispatcher::schedules::{next_tick, run_once, Cron};
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::fake_worker::deployed_function;
use crate::helpers::{assert_invalid_field, assert_problem, id_of, TestApp};

/// Schedule loops that never run by themselves: the tests step them with `run_once`.
async fn spawn(pool: PgPool) -> TestApp {
    TestApp::spawn_with(pool, |settings| settings.schedules.poll_ms = 3_600_000).await
}

async fn schedule(app: &TestApp, token: &str, function: &str, cron: &str) -> String {
    let body = json!({"functionId": function, "cron": cron, "timezone": "Europe/Rome"});
    let response = app.post("/v1/scheduled", Some(token), body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    id_of(response).await
}

async fn count(app: &TestApp, sql: &str, id: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(canopy_shared::parse_id(id).expect("id"))
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

/// Makes the schedule's tick come `seconds_ago` seconds ago.
async fn due(app: &TestApp, id: &str, seconds_ago: i64) {
    sqlx::query("UPDATE schedules SET next_run_at = date_trunc('minute', now()) - make_interval(secs => $2) WHERE id = $1")
        .bind(canopy_shared::parse_id(id).expect("id"))
        .bind(seconds_ago as f64)
        .execute(&app.pool)
        .await
        .expect("due");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_schedule_is_created_paused_given_a_payload_listed_tried_and_deleted(pool: PgPool) {
    let app = spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let id = schedule(&app, &user.token, &function, "*/5 * * * *").await;
    let path = format!("/v1/scheduled/{id}");
    let shown: Value = app
        .get(&path, &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(shown["cron"], "*/5 * * * *");
    assert_eq!(shown["timezone"], "Europe/Rome");
    assert_eq!(shown["active"], true);
    let next: DateTime<Utc> = shown["nextRunAt"]
        .as_str()
        .expect("next")
        .parse()
        .expect("rfc3339");
    assert!(next > Utc::now() && next.timestamp() % 300 == 0, "{next}");

    let off = app
        .send(
            Method::PATCH,
            &path,
            Some(&user.token),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(off.status(), StatusCode::NO_CONTENT);
    let shown: Value = app
        .get(&path, &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(shown["nextRunAt"], Value::Null);
    assert_eq!(shown["cron"], "*/5 * * * *", "kept");

    let payload = app
        .client
        .put(app.url(&format!("{path}/payload?city=Rome")))
        .bearer_auth(&user.token)
        .header("content-type", "application/json")
        .body("{\"n\":3}")
        .send()
        .await
        .expect("sent");
    assert_eq!(payload.status(), StatusCode::NO_CONTENT);
    let shown: Value = app
        .get(&path, &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        shown["inlinePayload"],
        json!({"query": "city=Rome", "body": "eyJuIjozfQ==", "contentType": "application/json"})
    );

    let tried = app
        .send(
            Method::POST,
            &format!("{path}/try"),
            Some(&user.token),
            None,
        )
        .await;
    let task = id_of(tried).await;
    let (query, body): (String, Vec<u8>) =
        sqlx::query_as("SELECT request_query, request_body FROM tasks WHERE id = $1")
            .bind(canopy_shared::parse_id(&task).expect("id"))
            .fetch_one(&app.pool)
            .await
            .expect("task");
    assert_eq!(
        (query.as_str(), body.as_slice()),
        ("city=Rome", b"{\"n\":3}".as_slice())
    );
    let shown: Value = app
        .get(&path, &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(shown["runs"][0]["taskId"], task.as_str());

    schedule(&app, &user.token, &function, "@daily").await;
    let listed: Value = app
        .send(
            Method::GET,
            "/v1/scheduled/list",
            Some(&user.token),
            Some(json!({"timezone": "Europe/Rome", "limit": 1})),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        (listed["totalCount"].clone(), listed["pageCount"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(listed["results"][0]["id"], id.as_str());
    let deleted = app
        .send(Method::DELETE, &path, Some(&user.token), None)
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get(&path, &user.token).await,
        StatusCode::NOT_FOUND,
        "SCHEDULE_NOT_FOUND",
    )
    .await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_tick_runs_once_across_replicas_and_after_a_crash(pool: PgPool) {
    let first = spawn(pool.clone()).await;
    let second = spawn(pool).await;
    let user = first.signup("dev@example.com").await;
    let function = deployed_function(&first, &user.token).await;
    let id = schedule(&first, &user.token, &function, "0 3 * * *").await;
    due(&first, &id, 0).await;
    let (one, two) = tokio::join!(run_once(&first.state), run_once(&second.state));
    assert_eq!(
        one.expect("pass") + two.expect("pass"),
        1,
        "one replica claims the tick"
    );
    let tasks = "SELECT count(*) FROM tasks WHERE function_id = (SELECT function_id FROM schedules WHERE id = $1)";
    assert_eq!(count(&first, tasks, &id).await, 1);
    let future = "SELECT count(*) FROM schedules WHERE id = $1 AND next_run_at > now()";
    assert_eq!(
        count(&first, future, &id).await,
        1,
        "moved to the next tick"
    );

    // A replica that submitted the tick and died before recording it.
    sqlx::query("UPDATE schedules s SET next_run_at = r.tick FROM schedule_runs r WHERE r.schedule_id = s.id AND s.id = $1")
        .bind(canopy_shared::parse_id(&id).expect("id"))
        .execute(&first.pool)
        .await
        .expect("rewind");
    sqlx::query("DELETE FROM schedule_runs")
        .execute(&first.pool)
        .await
        .expect("forget");
    assert_eq!(run_once(&second.state).await.expect("pass"), 1);
    assert_eq!(
        count(&first, tasks, &id).await,
        1,
        "the same task, not a second"
    );
    assert_eq!(
        count(
            &first,
            "SELECT count(*) FROM schedule_runs WHERE schedule_id = $1 AND task_id IS NOT NULL",
            &id
        )
        .await,
        1
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn missed_ticks_run_once_and_paused_functions_are_recorded(pool: PgPool) {
    let app = spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let id = schedule(&app, &user.token, &function, "* * * * *").await;
    due(&app, &id, 600).await;
    assert_eq!(run_once(&app.state).await.expect("pass"), 1);
    let missed: i32 = sqlx::query_scalar("SELECT missed FROM schedule_runs")
        .fetch_one(&app.pool)
        .await
        .expect("run");
    assert!((9..=11).contains(&missed), "ten minutes of ticks: {missed}");
    let tasks = "SELECT count(*) FROM tasks WHERE function_id = (SELECT function_id FROM schedules WHERE id = $1)";
    assert_eq!(count(&app, tasks, &id).await, 1, "one late run, not ten");
    assert_eq!(
        run_once(&app.state).await.expect("pass"),
        0,
        "next tick is in the future"
    );

    app.send(
        Method::POST,
        &format!("/v1/function/{function}/togglePause"),
        Some(&user.token),
        None,
    )
    .await;
    due(&app, &id, 0).await;
    run_once(&app.state).await.expect("pass");
    let shown: Value = app
        .get(&format!("/v1/scheduled/{id}"), &user.token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(shown["runs"][0]["error"], "FUNCTION_PAUSED");
    assert_eq!(count(&app, tasks, &id).await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn ticks_follow_the_timezone_through_dst(pool: PgPool) {
    let mut conn = pool.acquire().await.expect("conn");
    let at = |text: &str| text.parse::<DateTime<Utc>>().expect("instant");
    let daily = Cron::parse("30 2 * * *").expect("cron");
    // 29 March 2026: Rome skips 02:00–03:00; the 02:30 tick runs at 03:30 CEST (01:30Z), once.
    let first = next_tick(&mut conn, &daily, "Europe/Rome", at("2026-03-28T12:00:00Z"))
        .await
        .expect("q");
    assert_eq!(first, Some(at("2026-03-29T01:30:00Z")));
    let second = next_tick(&mut conn, &daily, "Europe/Rome", at("2026-03-29T01:30:00Z"))
        .await
        .expect("q");
    assert_eq!(second, Some(at("2026-03-30T00:30:00Z")), "02:30 CEST");
    // 25 October 2026: 02:30 happens twice; the schedule runs once that day.
    let autumn = next_tick(&mut conn, &daily, "Europe/Rome", at("2026-10-24T12:00:00Z"))
        .await
        .expect("q")
        .expect("tick");
    let after = next_tick(&mut conn, &daily, "Europe/Rome", autumn)
        .await
        .expect("q")
        .expect("tick");
    assert_eq!(
        after,
        at("2026-10-26T01:30:00Z"),
        "02:30 CET the next day, after {autumn}"
    );
    let noon = Cron::parse("0 12 * * *").expect("cron");
    let ny = next_tick(
        &mut conn,
        &noon,
        "America/New_York",
        at("2026-07-01T00:00:00Z"),
    )
    .await
    .expect("q");
    assert_eq!(ny, Some(at("2026-07-01T16:00:00Z")));
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_schedule_input_gets_its_status_and_code(pool: PgPool) {
    let app = spawn(pool).await;
    let user = app.signup("dev@example.com").await;
    let other = app.signup("other@example.com").await;
    let function = deployed_function(&app, &user.token).await;
    let theirs = deployed_function(&app, &other.token).await;
    for (body, field) in [
        (
            json!({"functionId": function, "cron": "61 * * * *", "timezone": "UTC"}),
            "cron",
        ),
        (
            json!({"functionId": function, "cron": "* * * *", "timezone": "UTC"}),
            "cron",
        ),
        (
            json!({"functionId": function, "cron": "* * * * *", "timezone": "Mars/Base"}),
            "timezone",
        ),
        (
            json!({"functionId": function, "cron": "* * * * *"}),
            "timezone",
        ),
        (
            json!({"functionId": theirs, "cron": "* * * * *", "timezone": "UTC"}),
            "functionId",
        ),
        (
            json!({"functionId": "nope", "cron": "* * * * *", "timezone": "UTC"}),
            "functionId",
        ),
        (
            json!({"functionId": function, "cron": "* * * * *", "timezone": "UTC", "every": 5}),
            "every",
        ),
        (
            json!({"functionId": function, "cron": "* * * * *", "timezone": "UTC", "description": "\u{e9}"}),
            "description",
        ),
    ] {
        assert_invalid_field(
            app.post("/v1/scheduled", Some(&user.token), body).await,
            field,
        )
        .await;
    }
    let id = schedule(&app, &user.token, &function, "@hourly").await;
    let path = format!("/v1/scheduled/{id}");
    let bad = app
        .send(
            Method::PATCH,
            &path,
            Some(&user.token),
            Some(json!({"active": "yes"})),
        )
        .await;
    assert_invalid_field(bad, "active").await;
    for (method, path) in [
        (Method::GET, path.clone()),
        (Method::DELETE, path.clone()),
        (Method::POST, format!("{path}/try")),
        (Method::PUT, format!("{path}/payload")),
        (Method::GET, "/v1/scheduled/xyz".to_owned()),
    ] {
        assert_problem(
            app.send(method, &path, Some(&other.token), None).await,
            StatusCode::NOT_FOUND,
            "SCHEDULE_NOT_FOUND",
        )
        .await;
    }
    assert_invalid_field(
        app.get("/v1/scheduled/list?limit=0", &user.token).await,
        "limit",
    )
    .await;
}
