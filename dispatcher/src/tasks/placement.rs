//! In-memory placement: a worker connected to this replica, with credits, that fits a task
//! now; and the `assign` frame that hands a task to it.

use std::cmp::Reverse;
use std::sync::Arc;

use canopy_shared::matching::Requirements;
use canopy_shared::protocol::{encode_body, Assignment, FunctionSpec, TaskRequest};
use uuid::Uuid;

use crate::dispatch::SessionHandle;
use crate::state::AppState;

/// What a task of `account` running this function version needs of a node.
pub(super) fn requirements(account: Uuid, function: &FunctionSpec) -> Requirements {
    Requirements {
        account,
        lang: function.lang,
        capabilities: function.capabilities,
    }
}

/// Books `task` on a ready worker that fits it: one holding the function version warm first,
/// then (for a task in a hurry) the nearest, then the one with the most credits; `None` when
/// none fits (the task is queued for the scheduler).
pub(super) fn place(
    state: &AppState,
    task: Uuid,
    requirements: &Requirements,
    version: &str,
    in_a_hurry: bool,
) -> Option<Arc<SessionHandle>> {
    let mut ready = state.registry.ready();
    if ready.len() > 1 {
        ready.sort_by_cached_key(|session| {
            rank(
                session.is_warm(version),
                session.latency_ms(),
                session.credits(),
                in_a_hurry,
            )
        });
    }
    let session = ready
        .into_iter()
        .filter(|session| !session.close.is_cancelled())
        .find(|session| session.try_reserve(task, requirements))?;
    state.registry.settle(&session);
    Some(session)
}

/// Sort key of a candidate worker, best first: warm, then (for a task with a start deadline)
/// the lowest measured round trip (unmeasured last), then the most credits.
fn rank(
    warm: bool,
    latency_ms: Option<u32>,
    credits: u32,
    in_a_hurry: bool,
) -> (Reverse<bool>, u32, Reverse<u32>) {
    let distance = if in_a_hurry {
        latency_ms.unwrap_or(u32::MAX)
    } else {
        0
    };
    (Reverse(warm), distance, Reverse(credits))
}

/// The `assign` frame of one attempt.
pub(super) fn assignment(
    task: Uuid,
    attempt: i32,
    lease_ms: u64,
    function: FunctionSpec,
    request: TaskRequest,
) -> Assignment {
    Assignment {
        task_id: canopy_shared::format_id(task),
        attempt: u32::try_from(attempt).unwrap_or(1),
        lease_ms,
        function,
        request,
    }
}

/// The wire form of a stored request.
pub(super) fn wire_request(
    method: String,
    query: String,
    headers: Vec<(String, String)>,
    content_type: Option<String>,
    body: &[u8],
) -> TaskRequest {
    TaskRequest {
        method,
        query,
        headers,
        content_type,
        body: encode_body(body),
    }
}

#[cfg(test)]
mod tests {
    use super::rank;

    #[test]
    fn warm_comes_first_then_nearness_for_tasks_in_a_hurry_then_credits() {
        // (warm, latency, credits) of three workers.
        let workers = [
            (false, Some(40), 9),
            (false, Some(3), 1),
            (true, Some(90), 1),
        ];
        let order = |in_a_hurry| {
            let mut indexes = vec![0, 1, 2];
            indexes.sort_by_key(|&i| {
                let (warm, latency, credits) = workers[i];
                rank(warm, latency, credits, in_a_hurry)
            });
            indexes
        };
        assert_eq!(order(false), [2, 0, 1], "warm, then most credits");
        assert_eq!(order(true), [2, 1, 0], "warm, then nearest");
        assert!(rank(false, None, 5, true) > rank(false, Some(500), 1, true));
    }
}
