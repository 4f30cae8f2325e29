//! `record_report`: what workers say about their attempts (`started`, `progress`, results),
//! written in batches by one writer, so a busy worker costs one commit per batch instead of
//! one per message. The gateway validates messages before they get here; fencing (task,
//! attempt, node, expected states) is in the SQL, and a report that changed nothing is told
//! apart here: stale (counted) or forged (the connection is closed).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

mod write;

use self::write::write;
use super::{TaskError, TaskStatus};
use crate::db::tasks::{EarlyRun, TaskOutput};
use crate::dispatch::SessionHandle;
use crate::state::AppState;

/// Most reports written in one batch.
const MAX_BATCH: usize = 1024;
/// Tries of a batch before its workers are told the dispatcher is unavailable.
const WRITE_TRIES: u32 = 3;

/// One message of a worker about one attempt.
#[derive(Debug)]
pub struct Report {
    pub session: Arc<SessionHandle>,
    /// The connection held this attempt when the message arrived (and, for a result, it is not
    /// a vote): a result then reaches this replica's waiters at once, before it is written.
    pub held: bool,
    /// For a result delivered early: when the node was given the attempt.
    pub given_at: Option<std::time::Instant>,
    pub task: Uuid,
    pub attempt: i32,
    pub at: DateTime<Utc>,
    pub kind: ReportKind,
}

#[derive(Debug)]
pub enum ReportKind {
    Started,
    Progress(i16),
    Finished(Finish),
    /// Failed for a reason that is not the function's (retried with backoff).
    Retry(String),
}

/// The end of an attempt.
#[derive(Debug, Clone)]
pub struct Finish {
    pub status: TaskStatus,
    pub response_status: Option<i32>,
    pub content_type: Option<String>,
    pub body: Option<Vec<u8>>,
    pub error_kind: Option<&'static str>,
    pub error_message: Option<String>,
    pub init_ms: i32,
    pub exec_ms: i32,
    pub warm: bool,
    /// CPU time and energy of the attempt, as its worker measured them.
    pub cpu_seconds: Option<f64>,
    pub energy_wh: Option<f64>,
}

/// Hands a report to the writer (waits only when the writer is far behind). The end of an
/// attempt the connection holds goes to this replica's waiters first: delivery is at least
/// once anyway, and the caller should not wait for the write (docs/decisions.md).
pub async fn record_report(state: &AppState, report: Report) -> Result<(), TaskError> {
    if let (true, ReportKind::Finished(finish)) = (report.held, &report.kind) {
        if state.completions.is_awaited(report.task) {
            state
                .completions
                .complete_early(report.task, output_of(finish, early_run(finish, &report)));
        }
    }
    state
        .queues
        .reports
        .send(report)
        .await
        .map_err(|_| TaskError::ShuttingDown)
}

pub(super) async fn run(
    state: Arc<AppState>,
    mut queue: mpsc::Receiver<Report>,
    shutdown: CancellationToken,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let received = tokio::select! {
            _ = shutdown.cancelled() => return,
            received = queue.recv_many(&mut batch, MAX_BATCH) => received,
        };
        if received == 0 {
            return;
        }
        run_once(&state, std::mem::take(&mut batch)).await;
    }
}

/// What one batch says about one attempt, folded together.
#[derive(Debug)]
struct Merged {
    session: Arc<SessionHandle>,
    started_at: Option<DateTime<Utc>>,
    progress: Option<i16>,
    finish: Option<Finish>,
    /// The result already reached this replica's waiters (so it cannot be a vote).
    early: bool,
    retry: Option<String>,
    /// Messages folded into this entry (each stale one is counted).
    messages: u64,
}

/// Writes one batch of reports.
pub async fn run_once(state: &AppState, batch: Vec<Report>) {
    let mut order = Vec::new();
    let mut merged: HashMap<(Uuid, i32), Merged> = HashMap::new();
    for report in batch {
        let key = (report.task, report.attempt);
        let entry = merged.entry(key).or_insert_with(|| {
            order.push(key);
            Merged {
                session: Arc::clone(&report.session),
                started_at: None,
                progress: None,
                finish: None,
                early: false,
                retry: None,
                messages: 0,
            }
        });
        entry.messages += 1;
        match report.kind {
            ReportKind::Started => entry.started_at = Some(report.at),
            ReportKind::Progress(percent) => entry.progress = Some(percent),
            ReportKind::Finished(finish) => {
                entry.early = report.held;
                entry.finish = Some(finish);
            }
            ReportKind::Retry(message) => entry.retry = Some(message),
        }
    }
    let attempts: Vec<((Uuid, i32), Merged)> = order
        .into_iter()
        .filter_map(|key| merged.remove(&key).map(|entry| (key, entry)))
        .collect();
    for attempt in 1..=WRITE_TRIES {
        match write(state, &attempts).await {
            Ok(()) => return,
            Err(error) if attempt < WRITE_TRIES => {
                tracing::warn!(error = %error, "could not write worker reports; retrying");
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            }
            Err(error) => {
                // The workers reconnect; their `hello` lists what they still hold, and the
                // rest is re-queued, so nothing stays stuck.
                tracing::error!(error = %error, reports = attempts.len(), "could not write worker reports");
                for (_, entry) in &attempts {
                    entry.session.refuse(
                        "UNAVAILABLE",
                        "the dispatcher cannot reach its database".to_owned(),
                    );
                }
            }
        }
    }
}

/// The output a finish gives waiters; `run` for an early one.
fn output_of(finish: &Finish, run: Option<EarlyRun>) -> TaskOutput {
    TaskOutput {
        status: finish.status,
        response_status: finish.response_status,
        response_content_type: finish.content_type.clone(),
        response_body: finish.body.clone(),
        error_kind: finish.error_kind.map(str::to_owned),
        error_message: finish.error_message.clone(),
        run,
    }
}

fn early_run(finish: &Finish, report: &Report) -> Option<EarlyRun> {
    report.given_at.map(|given_at| EarlyRun {
        node_id: report.session.node_id,
        init_ms: finish.init_ms,
        exec_ms: finish.exec_ms,
        warm: finish.warm,
        given_at,
    })
}
