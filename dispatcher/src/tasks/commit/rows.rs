//! One submission on its way into a group commit: resolved against its function's snapshot,
//! placed on a worker with credits when one fits, and added to the batch's rows.

use std::collections::HashMap;
use std::sync::Arc;

use canopy_shared::protocol::FunctionSpec;
use canopy_shared::Lang;
use uuid::Uuid;

use super::super::carbon::hold_until;
use super::super::placement::{place, requirements};
use super::super::submit::{Pending, Submission};
use super::super::TaskError;
use crate::db::submissions::{FunctionSnapshotRow, NewTasks};
use crate::dispatch::SessionHandle;
use crate::domain::function::capabilities_from_columns;
use crate::state::AppState;

/// A submission that passed its checks, on its way into the batch.
pub(super) struct Accepted {
    pub pending: Pending,
    pub function: FunctionSpec,
    pub session: Option<Arc<SessionHandle>>,
}

/// Checks a submission against its function's snapshot, places it, and adds its row.
#[allow(clippy::result_large_err)]
pub(super) fn accept(
    state: &AppState,
    snapshots: &HashMap<Uuid, FunctionSnapshotRow>,
    pending: Pending,
    rows: &mut NewTasks,
) -> Result<Accepted, (Pending, TaskError)> {
    let function = match resolve(snapshots, &pending.submission) {
        Ok(function) => function,
        Err(error) => return Err((pending, error)),
    };
    let needs = requirements(pending.submission.account_id, &function);
    // A deferrable task may wait for a greener window; it is then queued, held until it.
    let hold = pending
        .submission
        .defer_until
        .and_then(|finish_by| hold_until(state, &needs, finish_by));
    // Older queued tasks go first: place at submit only when none may be waiting. A task under
    // verification is always claimed, so the claim path can keep its runs on distinct owners.
    let verified = snapshots
        .get(&pending.submission.function_id)
        .is_some_and(|row| row.quorum > 0);
    let session = if hold.is_some() || verified || state.scheduler.may_have_queued() {
        None
    } else {
        place(
            state,
            pending.id,
            &needs,
            &function.version_key(),
            // A task that must start by a deadline goes to the nearest worker.
            pending.submission.deadline.is_some(),
        )
    };
    push_row(rows, &pending, &function, session.as_deref(), hold);
    Ok(Accepted {
        pending,
        function,
        session,
    })
}

/// The function version a submission runs, or why it cannot run.
fn resolve(
    snapshots: &HashMap<Uuid, FunctionSnapshotRow>,
    submission: &Submission,
) -> Result<FunctionSpec, TaskError> {
    function_spec(
        snapshots.get(&submission.function_id),
        submission.account_id,
        submission.function_id,
    )
}

/// The version of `function_id` that new tasks of `account_id` run, from its snapshot.
pub(in crate::tasks) fn function_spec(
    row: Option<&FunctionSnapshotRow>,
    account_id: Uuid,
    function_id: Uuid,
) -> Result<FunctionSpec, TaskError> {
    let row = row
        .filter(|row| row.account_id == account_id)
        .ok_or(TaskError::FunctionNotFound(function_id))?;
    if row.paused {
        return Err(TaskError::FunctionPaused);
    }
    if let (Some(build_id), Some("FAILED")) = (row.build_id, row.build_status.as_deref()) {
        return Err(TaskError::BuildFailed(build_id));
    }
    let (Some(build_id), Some(sha256), Some(size), Some(lang)) = (
        row.build_id,
        row.artifact_sha256.clone(),
        row.artifact_size,
        Lang::from_code(&row.lang),
    ) else {
        return Err(TaskError::NoRunner);
    };
    Ok(FunctionSpec {
        function_id: canopy_shared::format_id(row.id),
        build_id: canopy_shared::format_id(build_id),
        lang,
        artifact_sha256: sha256,
        artifact_size: u64::try_from(size).unwrap_or(0),
        capabilities: capabilities_from_columns(
            row.timeout_s,
            row.cpu_count,
            row.mem_size_mb,
            row.network_latency_ms,
            row.privileged,
            row.volunteers,
        ),
        image: super::super::scheduler::custom_image(row.image.clone(), row.image_pin.clone()),
    })
}

fn push_row(
    rows: &mut NewTasks,
    pending: &Pending,
    function: &FunctionSpec,
    session: Option<&SessionHandle>,
    hold: Option<chrono::DateTime<chrono::Utc>>,
) {
    let submission = &pending.submission;
    let request = &submission.request;
    let capabilities = &function.capabilities;
    let to_i32 = |value: u32| i32::try_from(value).unwrap_or(i32::MAX);
    rows.id.push(pending.id);
    rows.account_id.push(submission.account_id);
    rows.function_id.push(submission.function_id);
    rows.build_id
        .push(canopy_shared::parse_id(&function.build_id).unwrap_or_default());
    rows.lang.push(function.lang.code().to_owned());
    rows.timeout_s.push(to_i32(capabilities.timeout));
    rows.cpu_count.push(to_i32(capabilities.cpu_count));
    rows.mem_size_mb.push(to_i32(capabilities.mem_size));
    rows.network_latency_ms
        .push(to_i32(capabilities.network_latency));
    rows.privileged.push(capabilities.privileged);
    rows.volunteers.push(capabilities.volunteers);
    rows.method.push(request.method.clone());
    rows.query.push(request.query.clone());
    rows.headers
        .push(serde_json::to_value(&request.headers).unwrap_or_default());
    rows.content_type.push(request.content_type.clone());
    rows.body.push(request.body.clone());
    rows.priority.push(submission.priority);
    rows.deadline.push(submission.deadline);
    rows.defer_until.push(submission.defer_until);
    rows.not_before.push(hold);
    rows.node_id.push(session.map(|session| session.node_id));
    rows.session_id
        .push(session.map(|session| session.session_id));
    let image = function.image.as_ref();
    rows.image.push(image.map(|image| image.reference.clone()));
    rows.image_pin
        .push(image.and_then(|image| image.pin.clone()));
}
