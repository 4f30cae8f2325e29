//! `prewarm`: containers of a function's current version started on workers ahead of its tasks,
//! so the next tasks start warm. Only workers connected to this replica that may run the
//! function (trust, runtime, resources) are asked; each may start fewer than asked.

use std::sync::Arc;
use std::time::Duration;

use canopy_shared::matching;
use canopy_shared::protocol::DispatcherMessage;
use uuid::Uuid;

use super::commit::function_spec;
use super::placement::requirements;
use super::TaskError;
use crate::db;
use crate::dispatch::SessionHandle;
use crate::state::AppState;

/// Most instances one request may ask for.
pub const MAX_INSTANCES: u32 = 32;
/// How long the workers get to start their containers (a cold start takes well under this).
const ANSWER_WITHIN: Duration = Duration::from_secs(20);
/// How long an asked node may download the version's code without holding a task of it.
const GRANT_S: f64 = 60.0;

/// Asks the workers that may run the function to start `instances` containers in all, spread
/// over them; returns how many are warm when they have answered (or `ANSWER_WITHIN` passed).
pub async fn prewarm(
    state: &AppState,
    account_id: Uuid,
    function_id: Uuid,
    instances: u32,
) -> Result<u32, TaskError> {
    let mut conn = state.pool.acquire().await?;
    let rows = db::submissions::function_snapshots(&mut conn, &[function_id]).await?;
    let row = rows.first();
    if row.is_some_and(|row| row.paused && row.account_id == account_id) {
        return Err(TaskError::FunctionPaused);
    }
    let function = function_spec(row, account_id, function_id)?;
    let needs = requirements(account_id, &function);
    let nodes: Vec<Arc<SessionHandle>> = state
        .registry
        .snapshot()
        .into_iter()
        .filter(|session| !session.close.is_cancelled())
        .filter(|session| {
            session
                .offer()
                .is_some_and(|offer| matching::check(&needs, &offer).is_ok())
        })
        .collect();
    let instances = instances.min(MAX_INSTANCES);
    if nodes.is_empty() || instances == 0 {
        return Ok(0);
    }
    let ids: Vec<Uuid> = nodes.iter().map(|node| node.node_id).collect();
    db::builds::grant_artifact(&mut conn, &ids, &function.artifact_sha256, GRANT_S).await?;
    drop(conn);

    let mut answers = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        let share = share_of(instances, nodes.len(), index);
        if share == 0 {
            continue;
        }
        let request = canopy_shared::new_id();
        let answer = state.prewarms.expect(request, node.node_id);
        let message = DispatcherMessage::Prewarm {
            request_id: canopy_shared::format_id(request),
            function: Box::new(function.clone()),
            instances: share,
        };
        if node.send(message) {
            answers.push((request, answer));
        } else {
            state.prewarms.forget(request);
        }
    }
    let mut warm = 0;
    let deadline = tokio::time::Instant::now() + ANSWER_WITHIN;
    for (request, answer) in answers {
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(started)) => warm += started,
            _ => state.prewarms.forget(request),
        }
    }
    Ok(warm.min(instances))
}

/// Node `index`'s part of `instances` spread over `nodes` (the first ones take the remainder).
fn share_of(instances: u32, nodes: usize, index: usize) -> u32 {
    let nodes = u32::try_from(nodes).unwrap_or(u32::MAX).max(1);
    let index = u32::try_from(index).unwrap_or(u32::MAX);
    instances / nodes + u32::from(index < instances % nodes)
}

#[cfg(test)]
mod tests {
    use super::share_of;

    #[test]
    fn instances_are_spread_over_the_nodes() {
        let shares: Vec<u32> = (0..3).map(|index| share_of(7, 3, index)).collect();
        assert_eq!(shares, [3, 2, 2]);
        let shares: Vec<u32> = (0..4).map(|index| share_of(2, 4, index)).collect();
        assert_eq!(shares, [1, 1, 0, 0]);
    }
}
