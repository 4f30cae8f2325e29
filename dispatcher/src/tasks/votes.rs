//! k-of-n verification (BOINC's quorum, docs/security.md): the result of a run of a task under
//! verification is a vote. Once `quorum` votes from nodes of different owners agree, that answer
//! is the task's result and the voters' trust scores move; until then the task runs again on a
//! node of an owner that has not voted; after `quorum_runs` runs without a quorum it fails
//! `no_quorum`. Runs go one after another, so an agreeing quorum costs exactly `quorum` runs.

use std::collections::HashSet;

use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use super::reports::Finish;
use super::TaskStatus;
use crate::db;
use crate::db::votes::NewVote;
use crate::state::AppState;

/// Points a node gains for a vote that agrees with the accepted answer, and loses for one that
/// does not: one lie costs more than honest work earns in a while.
const AGREE_POINTS: i32 = 1;
const DISAGREE_POINTS: i32 = 5;

/// What a counted vote did to its task.
#[derive(Debug)]
pub(super) enum Tally {
    /// The task ends with this (the agreed answer, or the `no_quorum` failure).
    Decided(Finish),
    /// Back in the queue for another owner's node.
    NextRun,
    /// Not the task's live attempt on this node: the normal fencing decides.
    Stale,
}

/// The tasks among these finished attempts whose results are votes. Only results that were not
/// delivered early can be (`SessionHandle::early_since`), so the usual batch asks nothing.
pub(super) async fn voting_tasks(
    conn: &mut PgConnection,
    not_early: &[Uuid],
) -> sqlx::Result<HashSet<Uuid>> {
    if not_early.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(db::votes::verified_among(conn, not_early)
        .await?
        .into_iter()
        .collect())
}

/// Counts one run's answer, in a transaction of its own (the task row is locked meanwhile).
pub(super) async fn count(
    state: &AppState,
    conn: &mut PgConnection,
    (task, attempt): (Uuid, i32),
    node: Uuid,
    finish: &Finish,
) -> sqlx::Result<Tally> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let Some(ballot) = db::votes::lock_ballot(&mut tx, task).await? else {
        return Ok(Tally::Stale);
    };
    let live = matches!(ballot.status.as_str(), "assigned" | "running");
    let (true, Some(owner), Some(holder)) = (
        live && ballot.attempt == attempt,
        ballot.owner,
        ballot.node_id,
    ) else {
        return Ok(Tally::Stale);
    };
    if holder != node {
        return Ok(Tally::Stale);
    }
    let digest = digest_of(finish);
    let vote = NewVote {
        task,
        attempt,
        node,
        owner,
        digest: &digest,
        status: finish.status.as_str(),
        response_status: finish.response_status,
        content_type: finish.content_type.as_deref(),
        body: finish.body.as_deref(),
        error_kind: finish.error_kind,
        error_message: finish.error_message.as_deref(),
    };
    let (agreeing, all) = db::votes::cast(&mut tx, &vote).await?;
    let mut dissenters = Vec::new();
    let tally = if agreeing >= i64::from(ballot.quorum) {
        dissenters =
            db::votes::settle(&mut tx, task, &digest, AGREE_POINTS, DISAGREE_POINTS).await?;
        tracing::info!(task.id = %canopy_shared::format_id(task), votes = all, "verified: the quorum agreed");
        Tally::Decided(finish.clone())
    } else if all >= i64::from(ballot.quorum_runs) {
        tracing::warn!(task.id = %canopy_shared::format_id(task), votes = all, "verification failed: no quorum");
        Tally::Decided(no_quorum(finish, ballot.quorum, all))
    } else if db::votes::requeue_for_next_run(&mut tx, task, attempt, owner).await? {
        Tally::NextRun
    } else {
        Tally::Stale
    };
    tx.commit().await?;
    if matches!(tally, Tally::NextRun) {
        state.scheduler.wake();
    }
    // Before the task is written as ended: a dissenter connected here stops volunteering (if its
    // score fell too low) before its caller can send the next task. Other replicas follow the
    // notification.
    let sessions: Vec<_> = dissenters
        .into_iter()
        .filter_map(|node| state.registry.get(node))
        .collect();
    if let Err(error) = crate::dispatch::trust::refresh(state, &sessions).await {
        tracing::warn!(error = %error, "could not re-read the trust of dissenting nodes");
    }
    Ok(tally)
}

/// What makes two answers the same: the outcome, the response and the error, not the timings.
fn digest_of(finish: &Finish) -> Vec<u8> {
    let mut hash = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    };
    field(finish.status.as_str().as_bytes());
    field(&finish.response_status.unwrap_or(-1).to_be_bytes());
    field(finish.content_type.as_deref().unwrap_or("").as_bytes());
    field(finish.body.as_deref().unwrap_or(&[]));
    field(finish.error_kind.unwrap_or("").as_bytes());
    field(finish.error_message.as_deref().unwrap_or("").as_bytes());
    hash.finalize().to_vec()
}

fn no_quorum(last: &Finish, quorum: i16, runs: i64) -> Finish {
    Finish {
        status: TaskStatus::Failed,
        response_status: None,
        content_type: None,
        body: None,
        error_kind: Some("no_quorum"),
        error_message: Some(format!(
            "{runs} runs on nodes of different owners gave no answer that {quorum} of them agree on"
        )),
        ..last.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &[u8]) -> Finish {
        Finish {
            status: TaskStatus::Succeeded,
            response_status: Some(200),
            content_type: Some("text/plain".into()),
            body: Some(body.to_vec()),
            error_kind: None,
            error_message: None,
            init_ms: 1,
            exec_ms: 2,
            warm: true,
            cpu_seconds: None,
            energy_wh: None,
        }
    }

    #[test]
    fn answers_agree_on_what_the_caller_sees_and_not_on_timings() {
        let mut slower = answer(b"42");
        slower.exec_ms = 900;
        slower.warm = false;
        assert_eq!(digest_of(&answer(b"42")), digest_of(&slower));
        assert_ne!(digest_of(&answer(b"42")), digest_of(&answer(b"43")));
        let mut other_type = answer(b"42");
        other_type.content_type = Some("text/html".into());
        assert_ne!(digest_of(&answer(b"42")), digest_of(&other_type));
        // Length-prefixed fields: moving bytes between fields changes the digest.
        let mut shifted = answer(b"");
        shifted.content_type = Some("text/plain42".into());
        assert_ne!(digest_of(&answer(b"42")), digest_of(&shifted));
    }

    #[test]
    fn no_quorum_is_a_failure_that_says_how_many_runs_disagreed() {
        let failed = no_quorum(&answer(b"x"), 2, 4);
        assert_eq!(failed.status, TaskStatus::Failed);
        assert_eq!(failed.error_kind, Some("no_quorum"));
        assert!(failed.body.is_none());
        assert!(failed
            .error_message
            .as_deref()
            .is_some_and(|message| message.starts_with("4 runs")));
    }
}
