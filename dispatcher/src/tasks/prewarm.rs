//! `prewarm`: containers of a function's current version started on workers ahead of its tasks,
//! so the next tasks start warm. The workers that may run the function (trust, runtime,
//! resources) are asked, wherever their socket is: those on this replica directly, those on
//! other replicas through a `canopy_prewarm` notification that their replica relays (`relay`);
//! each may start fewer than asked.

use std::sync::Arc;
use std::time::Duration;

use canopy_shared::matching;
use canopy_shared::protocol::{DispatcherMessage, FunctionSpec};
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

/// A node asked to prewarm: its socket is here, or on another replica.
enum Target {
    Here(Arc<SessionHandle>),
    Elsewhere(Uuid),
}

impl Target {
    fn node_id(&self) -> Uuid {
        match self {
            Target::Here(session) => session.node_id,
            Target::Elsewhere(node) => *node,
        }
    }
}

/// Asks the workers that may run the function to start `instances` containers in all, spread
/// over them; returns how many are warm when they have answered (or `ANSWER_WITHIN` passed).
pub async fn prewarm(
    state: &AppState,
    account_id: Uuid,
    function_id: Uuid,
    instances: u32,
) -> Result<u32, TaskError> {
    let mut conn = state.pool.acquire().await?;
    let function = current_version(&mut conn, account_id, function_id).await?;
    let mut targets: Vec<Target> = local_nodes(state, account_id, &function)
        .into_iter()
        .map(Target::Here)
        .collect();
    // Nodes of other replicas: their replica checks the fit against their live offer.
    let window = state.dispatch.connected_window_s();
    let volunteers = function.capabilities.volunteers;
    for node in db::nodes::connected_serving(&mut conn, window, account_id, volunteers).await? {
        let here = targets.iter().any(|target| target.node_id() == node.id);
        if !here
            && node
                .replica_id
                .is_some_and(|replica| replica != state.replica_id)
        {
            targets.push(Target::Elsewhere(node.id));
        }
    }
    let instances = instances.min(MAX_INSTANCES);
    if targets.is_empty() || instances == 0 {
        return Ok(0);
    }
    let ids: Vec<Uuid> = targets.iter().map(Target::node_id).collect();
    db::builds::grant_artifact(&mut conn, &ids, &function.artifact_sha256, GRANT_S).await?;

    let mut answers = Vec::new();
    for (index, target) in targets.iter().enumerate() {
        let share = share_of(instances, targets.len(), index);
        if share == 0 {
            continue;
        }
        let request = canopy_shared::new_id();
        let answer = state.prewarms.expect(request, target.node_id());
        let asked = match target {
            Target::Here(session) => session.send(frame(request, &function, share)),
            Target::Elsewhere(node) => {
                let ask = format!("ask:{request}:{node}:{share}:{account_id}:{function_id}");
                db::prewarms::notify(&mut conn, &ask).await.is_ok()
            }
        };
        if asked {
            answers.push((request, answer));
        } else {
            state.prewarms.forget(request);
        }
    }
    drop(conn);
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

/// A `canopy_prewarm` notification. `ask:` — another replica asks a node whose socket is here
/// (ignored otherwise): this replica checks the fit, sends the request and notifies the
/// answer. `done:` — a node's answer to a request this replica relayed for it.
pub fn relay(state: &Arc<AppState>, payload: &str) {
    if let Some(done) = payload.strip_prefix("done:") {
        let mut parts = done.split(':');
        if let (Some(Ok(request)), Some(Ok(node)), Some(Ok(started))) = (
            parts.next().map(Uuid::parse_str),
            parts.next().map(Uuid::parse_str),
            parts.next().map(str::parse::<u32>),
        ) {
            state.prewarms.answer(request, node, started);
        }
        return;
    }
    let Some(ask) = payload.strip_prefix("ask:") else {
        return;
    };
    let parts: Vec<&str> = ask.split(':').collect();
    let [request, node, share, account, function] = parts[..] else {
        return;
    };
    let (Ok(request), Ok(node), Ok(share), Ok(account), Ok(function)) = (
        Uuid::parse_str(request),
        Uuid::parse_str(node),
        share.parse::<u32>(),
        Uuid::parse_str(account),
        Uuid::parse_str(function),
    ) else {
        return;
    };
    let Some(session) = state.registry.get(node) else {
        return;
    };
    let state = Arc::clone(state);
    tokio::spawn(async move {
        let started = match ask_here(&state, &session, request, share, account, function).await {
            Ok(started) => started,
            Err(error) => {
                tracing::warn!(%error, node.id = %canopy_shared::format_id(node), "relayed prewarm failed");
                0
            }
        };
        let done = format!("done:{request}:{node}:{started}");
        let notified = match state.pool.acquire().await {
            Ok(mut conn) => db::prewarms::notify(&mut conn, &done).await,
            Err(error) => Err(error),
        };
        if let Err(error) = notified {
            tracing::warn!(%error, "could not send a relayed prewarm's answer");
        }
    });
}

/// Asks `session`'s worker for `share` containers if it may run the function: how many started.
async fn ask_here(
    state: &AppState,
    session: &Arc<SessionHandle>,
    request: Uuid,
    share: u32,
    account: Uuid,
    function_id: Uuid,
) -> Result<u32, TaskError> {
    let mut conn = state.pool.acquire().await?;
    let function = current_version(&mut conn, account, function_id).await?;
    drop(conn);
    let fits = session
        .offer()
        .is_some_and(|offer| matching::check(&requirements(account, &function), &offer).is_ok());
    if !fits || session.close.is_cancelled() {
        return Ok(0);
    }
    let answer = state.prewarms.expect(request, session.node_id);
    if !session.send(frame(request, &function, share.min(MAX_INSTANCES))) {
        state.prewarms.forget(request);
        return Ok(0);
    }
    match tokio::time::timeout(ANSWER_WITHIN, answer).await {
        Ok(Ok(started)) => Ok(started),
        _ => {
            state.prewarms.forget(request);
            Ok(0)
        }
    }
}

/// The version new tasks of the function run.
async fn current_version(
    conn: &mut sqlx::PgConnection,
    account_id: Uuid,
    function_id: Uuid,
) -> Result<FunctionSpec, TaskError> {
    let rows = db::submissions::function_snapshots(conn, &[function_id]).await?;
    function_spec(rows.first(), account_id, function_id)
}

/// Sessions on this replica that may run the function.
fn local_nodes(
    state: &AppState,
    account_id: Uuid,
    function: &FunctionSpec,
) -> Vec<Arc<SessionHandle>> {
    let needs = requirements(account_id, function);
    state
        .registry
        .snapshot()
        .into_iter()
        .filter(|session| !session.close.is_cancelled())
        .filter(|session| {
            session
                .offer()
                .is_some_and(|offer| matching::check(&needs, &offer).is_ok())
        })
        .collect()
}

fn frame(request: Uuid, function: &FunctionSpec, instances: u32) -> DispatcherMessage {
    DispatcherMessage::Prewarm {
        request_id: canopy_shared::format_id(request),
        function: Box::new(function.clone()),
        instances,
    }
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
