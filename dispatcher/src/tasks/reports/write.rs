//! Writing one batch: finishes, starts and progress in one statement each, votes counted first
//! (`tasks/votes.rs`), retries re-queued, waiters woken, and reports that changed nothing fenced.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{output_of, Finish, Merged};
use crate::db;
use crate::db::reports::{Finishes, Progresses, Starts};
use crate::dispatch::{Ended, Metrics};
use crate::state::AppState;
use crate::tasks::votes::{self, Tally};

pub(super) async fn write(
    state: &AppState,
    attempts: &[((Uuid, i32), Merged)],
) -> sqlx::Result<()> {
    let mut finishes = Finishes::default();
    let mut starts = Starts::default();
    let mut progresses = Progresses::default();
    let mut retries: HashMap<Uuid, Vec<(Uuid, i32, String)>> = HashMap::new();
    let mut conn = state.batch_pool.acquire().await?;
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
    crate::tasks::carbon::record_intensities(
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
        let unmoved = crate::tasks::requeue::retry_attempts(state, &mut conn, *node, list).await?;
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
        .complete(task, Ended::Output(Arc::new(output_of(finish, None))));
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
