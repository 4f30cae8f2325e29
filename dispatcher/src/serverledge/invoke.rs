//! `POST /invoke/{function}`: one task through the task core. Synchronous calls wait and get the
//! execution report; `Async: true` gets `{"ReqId"}` for `/poll`.

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use uuid::Uuid;

use super::auth::Caller;
use super::report::{self, Verdict};
use super::{body, request_id, FacadeError, ServerledgeSettings};
use crate::db;
use crate::db::serverledge::NewRequest;
use crate::state::AppState;
use crate::tasks::{self, Request, Submission};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
struct InvokeRequest {
    #[serde(default)]
    params: serde_json::Value,
    /// Serverledge's documented default (its Go zero value is false; its CLI sends true).
    #[serde(default = "yes")]
    candooffloading: bool,
    #[serde(default)]
    r#async: bool,
    #[serde(default)]
    qosclass: i64,
    /// Seconds; 0 or negative (the CLI's default is -1) means none.
    #[serde(default)]
    qosmaxrespt: f64,
    #[serde(default)]
    returnoutput: bool,
}

fn yes() -> bool {
    true
}

/// The task's body: what the runner passes to `handler(params, context)`.
fn task_body(request: &InvokeRequest) -> Result<Vec<u8>, FacadeError> {
    let params = match &request.params {
        serde_json::Value::Null => serde_json::json!({}),
        object @ serde_json::Value::Object(_) => object.clone(),
        _ => {
            return Err(FacadeError::bad_request(
                "INVALID_PARAMS",
                "Invalid request body: Params must be a JSON object",
            ))
        }
    };
    serde_json::to_vec(&serde_json::json!({
        "Params": params,
        "ReturnOutput": request.returnoutput,
    }))
    .map_err(FacadeError::unavailable)
}

/// Invokes a function: 200 with the report; 404 for an unknown function; 429 when no worker took
/// it in time (`QoSMaxRespT`, else `--serverledge-queue-s`); 500 when the invocation failed.
#[post("/invoke/{function}")]
#[tracing::instrument(skip_all, fields(account.id = %caller.account_id, function = %path.as_str()))]
pub async fn invoke(
    req: HttpRequest,
    payload: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
    settings: web::Data<ServerledgeSettings>,
    path: web::Path<String>,
) -> Result<HttpResponse, FacadeError> {
    let (received, received_at) = (Instant::now(), Utc::now());
    let request: InvokeRequest = body::read(&req, payload, state.dispatch.task_body_limit).await?;
    let task_body = task_body(&request)?;
    let mut conn = state.pool.acquire().await?;
    let function = db::serverledge::find_function(&mut conn, caller.account_id, &path)
        .await?
        .ok_or_else(|| FacadeError::unknown_function(&path))?;
    drop(conn);
    // A queued task past its deadline fails as `deadline_exceeded`: Serverledge's drop.
    let queue_s = if request.qosmaxrespt > 0.0 {
        Some(request.qosmaxrespt)
    } else if request.r#async {
        None
    } else {
        Some(settings.queue_s as f64)
    };
    let deadline = queue_s
        .and_then(|seconds| chrono::Duration::from_std(Duration::from_secs_f64(seconds)).ok())
        .map(|limit| Utc::now() + limit);
    let submission = Submission {
        account_id: caller.account_id,
        function_id: function.function_id,
        request: Request {
            method: "POST".to_owned(),
            query: String::new(),
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            content_type: Some("application/json".to_owned()),
            body: task_body,
        },
        idempotency: None,
        priority: request.qosclass.clamp(-1000, 1000) as i16,
        deadline,
        defer_until: None,
    };
    if request.r#async {
        let submitted = tasks::submit(&state, submission).await?;
        record(&state, caller, submitted.id, RequestOptions::of(&request)).await?;
        let id = request_id(&function.name, submitted.id);
        return Ok(HttpResponse::Ok().json(serde_json::json!({ "ReqId": id })));
    }
    let wait = Duration::from_secs(settings.wait_s);
    let (submitted, output) = tasks::submit_and_wait(&state, submission, wait).await?;
    // Nothing reads a synchronous call's record on its way back: keep it off the answer's path.
    let background = state.clone();
    let options = RequestOptions::of(&request);
    tokio::spawn(async move {
        if let Err(error) = record(&background, caller, submitted.id, options).await {
            tracing::warn!(error = %error, "could not record a serverledge invocation");
        }
    });
    let Some(output) = output.filter(|output| output.status.is_final()) else {
        return Err(FacadeError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "STILL_RUNNING",
            format!(
                "Invocation failed: still running after {} s; follow it with GET /v1/task/{}",
                wait.as_secs(),
                canopy_shared::format_id(submitted.id)
            ),
        ));
    };
    // Straight from the worker when it ran on this replica; otherwise the written outcome.
    let outcome = match report::early_outcome(&output, received_at, received) {
        Some(outcome) => outcome,
        None => {
            state.completions.written(submitted.id).await;
            let mut conn = state.pool.acquire().await?;
            db::serverledge::outcome(&mut conn, caller.account_id, submitted.id, false)
                .await?
                .ok_or_else(|| FacadeError::unavailable("an invoked task vanished"))?
        }
    };
    let report = report::build(&outcome, Some(received.elapsed().as_secs_f64()));
    match report::verdict(&outcome) {
        Verdict::Succeeded => Ok(HttpResponse::Ok().json(report)),
        Verdict::Dropped => Err(FacadeError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "OVERLOADED",
            format!(
                "Not served because of excessive load: no worker took the request within {} s",
                queue_s.unwrap_or_default()
            ),
        )),
        Verdict::Failed => Err(FacadeError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INVOCATION_FAILED",
            format!(
                "Invocation failed: {}",
                report.error.unwrap_or_else(|| "unknown error".to_owned())
            ),
        )),
    }
}

/// What the caller asked for beyond the task itself.
#[derive(Debug, Clone, Copy)]
struct RequestOptions {
    qos_class: i64,
    qos_max_resp_t: f64,
    can_do_offloading: bool,
    is_async: bool,
}

impl RequestOptions {
    fn of(request: &InvokeRequest) -> Self {
        RequestOptions {
            qos_class: request.qosclass,
            qos_max_resp_t: request.qosmaxrespt,
            can_do_offloading: request.candooffloading,
            is_async: request.r#async,
        }
    }
}

/// Keeps the options beside the task (and makes it pollable).
async fn record(
    state: &AppState,
    caller: Caller,
    task_id: Uuid,
    options: RequestOptions,
) -> Result<(), FacadeError> {
    let mut conn = state.pool.acquire().await?;
    let row = NewRequest {
        task_id,
        account_id: caller.account_id,
        qos_class: options
            .qos_class
            .clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
        qos_max_resp_t: (options.qos_max_resp_t > 0.0).then_some(options.qos_max_resp_t),
        can_do_offloading: options.can_do_offloading,
        is_async: options.is_async,
    };
    db::serverledge::insert_request(&mut conn, &row).await?;
    Ok(())
}
