//! The scheduler: for each connected worker with credits, claim queued tasks that fit it
//! (`FOR UPDATE SKIP LOCKED`, so replicas never hand out the same task) and send `assign`.

use std::sync::Arc;
use std::time::Duration;

use canopy_shared::matching::{check, Requirements};
use canopy_shared::protocol::{
    encode_body, Assignment, DispatcherMessage, FunctionSpec, TaskRequest,
};
use canopy_shared::Lang;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::registry::{SessionHandle, DEFAULT_TASK_MEMORY_MB};
use super::{Dispatch, Metrics};
use crate::db;
use crate::db::assignments::{Assigned, Candidate};
use crate::db::requeue::Requeue;
use crate::domain::function::capabilities_from_columns;

/// Queued tasks looked at per node per pass; the predicate picks among them.
const CANDIDATES_PER_PASS: i64 = 64;
/// How often idempotency keys older than 24 h are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// Safety net: look for work this often even without a wake-up.
const IDLE_PASS: Duration = Duration::from_secs(1);

pub(super) async fn run(dispatch: Arc<Dispatch>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = dispatch.wake.notified() => {}
            _ = tokio::time::sleep(IDLE_PASS) => {}
        }
        if let Err(error) = run_once(&dispatch).await {
            tracing::warn!(error = ?error, "scheduling pass failed; retrying");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// One pass over the connected workers; returns how many tasks were assigned.
pub(super) async fn run_once(dispatch: &Dispatch) -> anyhow::Result<usize> {
    let mut assigned = 0;
    for session in dispatch.registry.snapshot() {
        if session.credits() == 0 || session.close.is_cancelled() {
            continue;
        }
        assigned += assign_to(dispatch, &session).await?;
    }
    Ok(assigned)
}

async fn assign_to(dispatch: &Dispatch, session: &SessionHandle) -> anyhow::Result<usize> {
    let Some(mut offer) = session.offer() else {
        return Ok(0);
    };
    let langs: Vec<String> = offer
        .resources
        .runtimes
        .iter()
        .map(|lang| lang.code().to_owned())
        .collect();
    let mut tx = dispatch.pool.begin().await?;
    let candidates = db::assignments::lock_candidates(&mut tx, &langs, CANDIDATES_PER_PASS).await?;
    let mut chosen = Vec::new();
    for candidate in candidates {
        if offer.free_slots == 0 {
            break;
        }
        let Some(requirements) = requirements_of(&candidate) else {
            continue;
        };
        if check(&requirements, &offer).is_ok() {
            offer.free_slots -= 1;
            offer.free_memory_mb = offer
                .free_memory_mb
                .saturating_sub(reserved_memory(requirements.capabilities.mem_size));
            chosen.push(candidate.id);
        }
    }
    if chosen.is_empty() {
        return Ok(0);
    }
    let lease_ms = i64::try_from(dispatch.settings.lease_ms).unwrap_or(i64::MAX);
    let rows = db::assignments::assign(&mut tx, &chosen, session.node_id, lease_ms).await?;
    tx.commit().await?;
    let count = rows.len();
    Metrics::add(&dispatch.metrics.tasks_assigned, count as u64);
    for row in rows {
        let memory = reserved_memory(u32::try_from(row.mem_size_mb).unwrap_or(0));
        session.record_assignment(row.id, memory);
        let task_id = canopy_shared::format_id(row.id);
        let message =
            DispatcherMessage::Assign(Box::new(assignment(row, dispatch.settings.lease_ms)));
        if !session.send(message) {
            // The socket closed meanwhile; the lost-node check re-queues the task.
            tracing::warn!(task.id = %task_id, "assigned to a worker that just disconnected");
        }
    }
    tracing::debug!(node.id = %canopy_shared::format_id(session.node_id), count, "assigned tasks");
    Ok(count)
}

fn reserved_memory(mem_size: u32) -> u32 {
    if mem_size == 0 {
        DEFAULT_TASK_MEMORY_MB
    } else {
        mem_size
    }
}

fn requirements_of(candidate: &Candidate) -> Option<Requirements> {
    Some(Requirements {
        lang: Lang::from_code(&candidate.lang)?,
        capabilities: capabilities_from_columns(
            candidate.timeout_s,
            candidate.cpu_count,
            candidate.mem_size_mb,
            candidate.network_latency_ms,
            candidate.privileged,
        ),
    })
}

fn assignment(row: Assigned, lease_ms: u64) -> Assignment {
    let headers: Vec<(String, String)> =
        serde_json::from_value(row.request_headers).unwrap_or_default();
    Assignment {
        task_id: canopy_shared::format_id(row.id),
        attempt: u32::try_from(row.attempt).unwrap_or(1),
        lease_ms,
        function: FunctionSpec {
            function_id: canopy_shared::format_id(row.function_id),
            build_id: canopy_shared::format_id(row.build_id),
            // The claim filtered on the node's runtimes, which are valid codes.
            lang: Lang::from_code(&row.lang).unwrap_or(Lang::Py),
            artifact_sha256: row.artifact_sha256,
            artifact_size: u64::try_from(row.artifact_size).unwrap_or(0),
            capabilities: capabilities_from_columns(
                row.timeout_s,
                row.cpu_count,
                row.mem_size_mb,
                row.network_latency_ms,
                row.privileged,
            ),
        },
        request: TaskRequest {
            method: row.request_method,
            query: row.request_query,
            headers,
            content_type: row.request_content_type,
            body: encode_body(&row.request_body),
        },
    }
}

/// Every heartbeat interval: one statement records every connected node's liveness and renews
/// the leases of the tasks they reported running; then leases that ran out are swept.
pub(super) async fn run_liveness(dispatch: Arc<Dispatch>, shutdown: CancellationToken) {
    let interval = Duration::from_millis(dispatch.settings.heartbeat_interval_ms);
    let mut last_prune = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        if let Err(error) = liveness_once(&dispatch).await {
            tracing::warn!(error = %error, "could not record heartbeats or sweep leases");
        }
        if last_prune.elapsed() > PRUNE_EVERY {
            last_prune = std::time::Instant::now();
            let pruned = async {
                let mut conn = dispatch.pool.acquire().await?;
                db::idempotency::prune(&mut conn).await
            };
            if let Err(error) = pruned.await {
                tracing::warn!(error = %error, "could not prune idempotency keys");
            }
        }
    }
}

async fn liveness_once(dispatch: &Dispatch) -> sqlx::Result<()> {
    let sessions = dispatch.registry.snapshot();
    if sessions.is_empty() {
        return Ok(());
    }
    let nodes: Vec<Uuid> = sessions.iter().map(|session| session.node_id).collect();
    let latencies: Vec<Option<i32>> = sessions
        .iter()
        .map(|session| session.latency_ms().and_then(|ms| i32::try_from(ms).ok()))
        .collect();
    let (lease_nodes, lease_tasks): (Vec<Uuid>, Vec<Uuid>) = sessions
        .iter()
        .flat_map(|session| {
            session
                .reported_running()
                .into_iter()
                .map(|task| (session.node_id, task))
        })
        .unzip();
    let lease_ms = i64::try_from(dispatch.settings.lease_ms).unwrap_or(i64::MAX);
    let mut conn = dispatch.pool.acquire().await?;
    db::nodes::record_heartbeats(
        &mut conn,
        &nodes,
        &latencies,
        &lease_nodes,
        &lease_tasks,
        lease_ms,
    )
    .await
}

/// How often lost nodes and expired leases are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Every second: beat for this replica, then re-queue the tasks of nodes that are gone (past the
/// disconnect grace, or on a replica that stopped beating) and of leases that ran out. Durable
/// and replica-independent: a replica that dies in the middle of a grace period leaves nothing
/// stuck.
pub(super) async fn run_sweeper(dispatch: Arc<Dispatch>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
        if let Err(error) = sweep_once(&dispatch).await {
            tracing::warn!(error = %error, "could not sweep lost nodes and expired leases");
        }
    }
}

async fn sweep_once(dispatch: &Dispatch) -> sqlx::Result<()> {
    let grace_s = dispatch.settings.disconnect_grace_s as f64;
    let max_attempts = dispatch.max_attempts();
    let mut conn = dispatch.pool.acquire().await?;
    db::nodes::beat_replica(&mut conn, dispatch.replica_id).await?;

    let (tasks, attempts) = db::requeue::attempts_of_lost_nodes(&mut conn, grace_s).await?;
    let why = Requeue {
        kind: "lost",
        message: "the node running it disconnected",
        backoff: false,
        max_attempts,
    };
    let lost = db::requeue::requeue_attempts(&mut conn, &tasks, &attempts, None, &why).await?;
    if lost > 0 {
        Metrics::add(&dispatch.metrics.lost_node_requeues, lost);
        tracing::warn!(tasks = lost, "nodes lost; their tasks were re-queued");
    }

    let (tasks, attempts) = db::requeue::attempts_with_expired_leases(&mut conn).await?;
    let why = Requeue {
        kind: "lost",
        message: "the lease of its worker ran out",
        backoff: false,
        max_attempts,
    };
    let expired = db::requeue::requeue_attempts(&mut conn, &tasks, &attempts, None, &why).await?;
    if expired > 0 {
        Metrics::add(&dispatch.metrics.leases_expired, expired);
        tracing::warn!(tasks = expired, "leases ran out; tasks re-queued");
    }
    if lost + expired > 0 {
        dispatch.wake();
    }
    Ok(())
}
