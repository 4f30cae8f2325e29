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

use super::votes::{self, Tally};
use super::{TaskError, TaskStatus};
use crate::db;
use crate::db::reports::{Finishes, Progresses, Starts};
use crate::db::tasks::TaskOutput;
use crate::dispatch::{Ended, Metrics, SessionHandle};
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
                .complete_early(report.task, output_of(finish));
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

async fn write(state: &AppState, attempts: &[((Uuid, i32), Merged)]) -> sqlx::Result<()> {
    let mut finishes = Finishes::default();
    let mut starts = Starts::default();
    let mut progresses = Progresses::default();
    let mut retries: HashMap<Uuid, Vec<(Uuid, i32, String)>> = HashMap::new();
    let mut conn = state.pool.acquire().await?;
    let not_early: Vec<Uuid> = attempts
        .iter()
        .filter(|(_, entry)| entry.retry.is_none() && entry.finish.is_some() && !entry.early)
        .map(|((task, _), _)| *task)
        .collect();
    let voting = votes::voting_tasks(&mut conn, &not_early).await?;
    let mut decided: HashMap<Uuid, Finish> = HashMap::new();
    let mut next_runs: Vec<Uuid> = Vec::new();
    for ((task, attempt), entry) in attempts {
        let node = entry.session.node_id;
        if let Some(message) = &entry.retry {
            retries
                .entry(node)
                .or_default()
                .push((*task, *attempt, message.clone()));
        } else if let Some(finish) = &entry.finish {
            let finish = if voting.contains(task) {
                match votes::count(state, &mut conn, (*task, *attempt), node, finish).await? {
                    Tally::Decided(verdict) => &*decided.entry(*task).or_insert(verdict),
                    Tally::NextRun => {
                        next_runs.push(*task);
                        continue;
                    }
                    Tally::Stale => finish,
                }
            } else {
                finish
            };
            push_finish(
                &mut finishes,
                *task,
                *attempt,
                node,
                finish,
                entry.started_at,
            );
        } else if let Some(started_at) = entry.started_at {
            starts.id.push(*task);
            starts.attempt.push(*attempt);
            starts.node_id.push(node);
            starts.started_at.push(started_at);
            starts.progress.push(entry.progress);
        } else if let Some(progress) = entry.progress {
            progresses.id.push(*task);
            progresses.attempt.push(*attempt);
            progresses.node_id.push(node);
            progresses.progress.push(progress);
        }
    }
    let applied = db::reports::apply(&mut conn, &finishes, &starts, &progresses).await?;
    let mut changed: Vec<Uuid> = Vec::with_capacity(attempts.len());
    for (task, seconds) in &applied.finished {
        state.metrics.end_to_end.observe(*seconds);
        changed.push(*task);
    }
    record_energy(state, attempts, &applied);
    Metrics::add(
        &state.metrics.results_recorded,
        applied.finished.len() as u64,
    );
    let ended: std::collections::HashSet<Uuid> = changed.iter().copied().collect();
    super::carbon::record_intensities(
        &mut conn,
        attempts
            .iter()
            .filter(|((task, _), entry)| entry.finish.is_some() && ended.contains(task))
            .map(|((task, attempt), entry)| (*task, *attempt, &entry.session)),
    )
    .await?;
    changed.extend(applied.started.iter().chain(&applied.progressed));
    changed.extend(next_runs.iter().copied());
    for (node, list) in &retries {
        let unmoved = super::requeue::retry_attempts(state, &mut conn, *node, list).await?;
        let moved = list
            .iter()
            .filter(|(task, attempt, _)| !unmoved.contains(&(*task, *attempt)))
            .map(|(task, _, _)| *task);
        changed.extend(moved);
        Metrics::add(
            &state.metrics.results_recorded,
            (list.len() - unmoved.len()) as u64,
        );
    }
    changed.sort_unstable();
    for ((task, attempt), entry) in attempts {
        if changed.binary_search(task).is_err() {
            fence(state, &mut conn, entry, *task, *attempt).await?;
        } else if next_runs.contains(task) {
            // A vote counted, and the task runs again: its waiters wait on.
        } else if let Some(finish) = decided.get(task).or(entry.finish.as_ref()) {
            wake_waiters(state, *task, finish);
        }
    }
    state.completions.settle(
        attempts
            .iter()
            .filter(|(_, entry)| entry.finish.is_some())
            .map(|((task, _), _)| *task),
    );
    Ok(())
}

fn push_finish(
    finishes: &mut Finishes,
    task: Uuid,
    attempt: i32,
    node: Uuid,
    finish: &Finish,
    started_at: Option<DateTime<Utc>>,
) {
    finishes.id.push(task);
    finishes.attempt.push(attempt);
    finishes.node_id.push(node);
    finishes.status.push(finish.status);
    finishes.response_status.push(finish.response_status);
    finishes.content_type.push(finish.content_type.clone());
    finishes.body.push(finish.body.clone());
    finishes
        .error_kind
        .push(finish.error_kind.map(str::to_owned));
    finishes.error_message.push(finish.error_message.clone());
    finishes.init_ms.push(finish.init_ms);
    finishes.exec_ms.push(finish.exec_ms);
    finishes.warm.push(finish.warm);
    finishes.cpu_seconds.push(finish.cpu_seconds);
    finishes.energy_wh.push(finish.energy_wh);
    finishes.started_at.push(started_at);
}

/// Adds the measured usage of the ended tasks to the Prometheus sums.
fn record_energy(
    state: &AppState,
    attempts: &[((Uuid, i32), Merged)],
    applied: &db::reports::Applied,
) {
    for ((task, _), entry) in attempts {
        let Some(finish) = &entry.finish else {
            continue;
        };
        let (Some(cpu), Some(wh)) = (finish.cpu_seconds, finish.energy_wh) else {
            continue;
        };
        if let Some((function, account)) = applied.owners.get(task) {
            state
                .metrics
                .energy
                .record(*function, entry.session.node_id, *account, cpu, wh);
        }
    }
}

/// Hands the committed output to this replica's waiters that came after the early delivery
/// (other replicas' waiters are woken by the database's notification and read it).
fn wake_waiters(state: &AppState, task: Uuid, finish: &Finish) {
    if !state.completions.is_awaited(task) {
        return;
    }
    state
        .completions
        .complete(task, Ended::Output(Arc::new(output_of(finish))));
}

fn output_of(finish: &Finish) -> TaskOutput {
    TaskOutput {
        status: finish.status,
        response_status: finish.response_status,
        response_content_type: finish.content_type.clone(),
        response_body: finish.body.clone(),
        error_kind: finish.error_kind.map(str::to_owned),
        error_message: finish.error_message.clone(),
    }
}

/// A report that changed nothing: stale (an older attempt, or one already ended) is counted
/// and ignored; one about a task this node never held closes its connection.
async fn fence(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    entry: &Merged,
    task: Uuid,
    attempt: i32,
) -> sqlx::Result<()> {
    let session = &entry.session;
    let current = db::assignments::current_attempt(conn, task).await?;
    let foreign = match current {
        None => true,
        Some((current_attempt, node)) => {
            attempt > current_attempt
                || (attempt == current_attempt && node != Some(session.node_id))
        }
    };
    if foreign {
        // Counted as a protocol violation when the session closes.
        session.refuse(
            "FOREIGN_TASK",
            format!(
                "task {} attempt {attempt} was never assigned to this node",
                canopy_shared::format_id(task)
            ),
        );
        return Ok(());
    }
    Metrics::add(&state.metrics.stale_messages, entry.messages);
    tracing::info!(task.id = %canopy_shared::format_id(task), attempt, "message for an attempt that is not current; refused");
    Ok(())
}
