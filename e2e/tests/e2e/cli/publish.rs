//! `canopy endpoint`, `trigger` and `schedule` against the real dispatcher: create, list, read,
//! change and delete, and the API's refusals (a bad cron, a trigger loop) with their codes.

use sqlx::PgPool;

use super::User;
use canopy_e2e::harness::Platform;

#[sqlx::test(migrations = "../migrations")]
async fn endpoints_triggers_and_schedules_round_trip_and_refusals_carry_their_codes(pool: PgPool) {
    let platform = Platform::start(pool).await;
    let user = User::new(&platform, "publish");
    user.login(&platform.api_key).await;
    let mut functions = Vec::new();
    for name in ["Source", "Next"] {
        let dir = platform.dir.join(name);
        let init = user
            .run(&[
                "fn",
                "init",
                "--lang",
                "py",
                "--name",
                name,
                dir.to_str().expect("utf-8"),
                "-q",
            ])
            .await;
        init.assert_ok();
        functions.push(init.stdout.trim().to_owned());
    }
    let (source, next) = (&functions[0], &functions[1]);

    let endpoint = user
        .run(&[
            "endpoint",
            "create",
            source,
            "--daily-limit",
            "5",
            "--origin",
            "https://a.example",
            "-o",
            "json",
        ])
        .await;
    endpoint.assert_ok();
    let endpoint_id = endpoint.json()["id"].as_str().expect("id").to_owned();
    assert_eq!(
        endpoint.json()["url"],
        format!("{}/gc/{endpoint_id}", user.url)
    );
    let shown = user
        .run(&["endpoint", "get", &endpoint_id, "-o", "json"])
        .await;
    assert_eq!(shown.json()["dailyLimit"], 5);
    assert_eq!(
        shown.json()["origin"],
        serde_json::json!(["https://a.example"])
    );
    let listed = user
        .run(&["endpoint", "list", "--function", source, "-q"])
        .await;
    assert_eq!(listed.stdout.trim(), endpoint_id);
    user.run(&["endpoint", "create", source, "--ip", "not-an-address"])
        .await
        .assert_error(1, "VALIDATION_FAILED");

    let trigger = user
        .run(&[
            "trigger",
            "create",
            "--function",
            source,
            "--next",
            next,
            "-q",
        ])
        .await;
    trigger.assert_ok();
    let trigger_id = trigger.stdout.trim().to_owned();
    let shown = user
        .run(&["trigger", "get", &trigger_id, "-o", "json"])
        .await;
    assert_eq!(shown.json()["nextId"], next.as_str());
    user.run(&["trigger", "create", "--function", next, "--next", source])
        .await
        .assert_error(1, "TRIGGER_CYCLE");

    let schedule = user
        .run(&[
            "schedule",
            "create",
            "--function",
            source,
            "--cron",
            "*/5 * * * *",
            "--timezone",
            "Europe/Rome",
            "-q",
        ])
        .await;
    schedule.assert_ok();
    let schedule_id = schedule.stdout.trim().to_owned();
    user.run(&["schedule", "pause", &schedule_id])
        .await
        .assert_ok();
    let shown = user
        .run(&["schedule", "get", &schedule_id, "-o", "json"])
        .await;
    assert_eq!(shown.json()["active"], false);
    assert_eq!(shown.json()["timezone"], "Europe/Rome");
    let bad_cron = user
        .run(&[
            "schedule",
            "create",
            "--function",
            source,
            "--cron",
            "every day",
        ])
        .await;
    bad_cron.assert_error(1, "VALIDATION_FAILED");
    assert!(bad_cron.stderr.contains("cron:"), "{}", bad_cron.stderr);

    for (kind, id) in [
        ("endpoint", &endpoint_id),
        ("trigger", &trigger_id),
        ("schedule", &schedule_id),
    ] {
        user.run(&[kind, "rm", id]).await.assert_ok();
        let code = format!("{}_NOT_FOUND", kind.to_uppercase());
        user.run(&[kind, "get", id]).await.assert_error(1, &code);
    }
}
