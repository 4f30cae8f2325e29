//! The execution report Serverledge returns from `/invoke` and `/poll`, made from a task's
//! outcome. Times are seconds, measured by the worker (init, execution) and the dispatcher.

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::serverledge::Outcome;
use crate::db::tasks::TaskOutput;
use crate::tasks::TaskStatus;

/// Serverledge's `Response` with its `ExecutionReport`, plus Canopy's `Error` on failure.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Report {
    pub success: bool,
    /// The function's return value as a JSON string (Serverledge's double encoding).
    pub result: String,
    pub response_time: f64,
    pub is_warm_start: bool,
    pub init_time: f64,
    pub offload_latency: f64,
    pub duration: f64,
    pub queueing_time: f64,
    pub sched_action: String,
    /// Captured stdout and stderr, with `ReturnOutput`.
    pub output: String,
    pub execution_node: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How an invocation ended, for the status code of a synchronous `/invoke`.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Succeeded,
    /// No worker took it in time: Serverledge's drop (429).
    Dropped,
    Failed,
}

/// What the runner answers for a Serverledge handler (`runtimes/*/runner`): the result as a
/// JSON string and the captured output.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RunnerAnswer {
    result: Option<String>,
    output: Option<String>,
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    ((to - from).num_microseconds().unwrap_or(0) as f64 / 1e6).max(0.0)
}

pub fn verdict(outcome: &Outcome) -> Verdict {
    match outcome.status {
        TaskStatus::Succeeded => Verdict::Succeeded,
        _ if outcome.error_kind.as_deref() == Some("deadline_exceeded") => Verdict::Dropped,
        _ => Verdict::Failed,
    }
}

/// The report of an ended task; `response_time` is what the caller waited when it is known.
/// The outcome of a task whose result came straight from its worker (`TaskOutput::run`), so a
/// synchronous call need not wait for the write nor read it back: `issued_at` is when the call
/// was received (`received` on the monotonic clock), the start when the node was given the task.
pub fn early_outcome(
    output: &TaskOutput,
    issued_at: DateTime<Utc>,
    received: Instant,
) -> Option<Outcome> {
    let run = output.run?;
    let queued =
        chrono::Duration::from_std(run.given_at.saturating_duration_since(received)).ok()?;
    Some(Outcome {
        status: output.status,
        response_status: output.response_status,
        response_body: output.response_body.clone(),
        error_kind: output.error_kind.clone(),
        error_message: output.error_message.clone(),
        init_ms: Some(run.init_ms),
        exec_ms: Some(run.exec_ms),
        warm: Some(run.warm),
        node_id: Some(run.node_id),
        issued_at,
        started_at: Some(issued_at + queued),
        finished_at: Some(Utc::now()),
    })
}

pub fn build(outcome: &Outcome, response_time: Option<f64>) -> Report {
    let finished = outcome.finished_at.unwrap_or_else(Utc::now);
    let response_time = response_time.unwrap_or_else(|| seconds(outcome.issued_at, finished));
    let init_time = f64::from(outcome.init_ms.unwrap_or(0)) / 1e3;
    let duration = f64::from(outcome.exec_ms.unwrap_or(0)) / 1e3;
    let queueing_time = outcome
        .started_at
        .map_or(0.0, |started| seconds(outcome.issued_at, started));
    let body = outcome.response_body.as_deref().unwrap_or_default();
    let answer: RunnerAnswer = serde_json::from_slice(body).unwrap_or_default();
    let success = verdict(outcome) == Verdict::Succeeded;
    let result = match answer.result {
        Some(result) => result,
        None if success => String::from_utf8_lossy(body).into_owned(),
        None => String::new(),
    };
    let error = (!success).then(|| {
        outcome
            .error_message
            .clone()
            .or_else(|| outcome.error_kind.clone())
            .unwrap_or_else(|| format!("the task ended {}", outcome.status.as_str()))
    });
    Report {
        success,
        result,
        response_time,
        is_warm_start: outcome.warm.unwrap_or(false),
        init_time,
        // Canopy always runs the function on another machine: what the trip cost beyond
        // queueing, start and execution.
        offload_latency: (response_time - queueing_time - init_time - duration).max(0.0),
        duration,
        queueing_time,
        sched_action: String::new(),
        output: answer.output.unwrap_or_default(),
        execution_node: outcome
            .node_id
            .map(canopy_shared::format_id)
            .unwrap_or_default(),
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: TaskStatus, body: &str, error_kind: Option<&str>) -> Outcome {
        let issued_at = Utc::now();
        Outcome {
            status,
            response_status: Some(200),
            response_body: Some(body.as_bytes().to_vec()),
            error_kind: error_kind.map(str::to_owned),
            error_message: error_kind.map(|kind| format!("{kind} happened")),
            init_ms: Some(300),
            exec_ms: Some(20),
            warm: Some(false),
            node_id: None,
            issued_at,
            started_at: Some(issued_at + chrono::Duration::milliseconds(100)),
            finished_at: Some(issued_at + chrono::Duration::milliseconds(500)),
        }
    }

    #[test]
    fn a_success_carries_the_runner_result_and_the_timings() {
        let done = outcome(
            TaskStatus::Succeeded,
            r#"{"Result": "{\"IsPrime\": false}", "Output": "hi\n"}"#,
            None,
        );
        let report = build(&done, None);
        assert!(report.success);
        assert_eq!(report.result, r#"{"IsPrime": false}"#);
        assert_eq!(report.output, "hi\n");
        assert!((report.response_time - 0.5).abs() < 1e-9);
        assert!((report.init_time - 0.3).abs() < 1e-9);
        assert!((report.duration - 0.02).abs() < 1e-9);
        assert!((report.queueing_time - 0.1).abs() < 1e-9);
        assert!((report.offload_latency - 0.08).abs() < 1e-9);
        assert_eq!(report.error, None);
    }

    #[test]
    fn failures_and_drops_say_why() {
        let failed = outcome(TaskStatus::Failed, "", Some("function_error"));
        assert_eq!(verdict(&failed), Verdict::Failed);
        let report = build(&failed, Some(1.0));
        assert!(!report.success);
        assert_eq!(report.error.as_deref(), Some("function_error happened"));
        assert_eq!(report.result, "");
        let dropped = outcome(TaskStatus::Failed, "", Some("deadline_exceeded"));
        assert_eq!(verdict(&dropped), Verdict::Dropped);
    }

    #[test]
    fn an_early_output_gives_the_outcome_without_the_database() {
        let received = Instant::now();
        let issued_at = Utc::now();
        let node = uuid::Uuid::new_v4();
        let mut output = TaskOutput {
            status: TaskStatus::Succeeded,
            response_status: Some(200),
            response_content_type: None,
            response_body: Some(b"{}".to_vec()),
            error_kind: None,
            error_message: None,
            run: None,
        };
        assert!(
            early_outcome(&output, issued_at, received).is_none(),
            "read it back then"
        );
        output.run = Some(crate::db::tasks::EarlyRun {
            node_id: node,
            init_ms: 7,
            exec_ms: 3,
            warm: true,
            given_at: received + std::time::Duration::from_millis(40),
        });
        let outcome = early_outcome(&output, issued_at, received).expect("early");
        assert_eq!(outcome.node_id, Some(node));
        assert_eq!(
            (outcome.init_ms, outcome.exec_ms, outcome.warm),
            (Some(7), Some(3), Some(true))
        );
        let queued = outcome.started_at.expect("given") - issued_at;
        assert_eq!(
            queued.num_milliseconds(),
            40,
            "queued until the node was given it"
        );
        assert_eq!(
            build(&outcome, Some(0.1)).execution_node,
            canopy_shared::format_id(node)
        );
    }
}
