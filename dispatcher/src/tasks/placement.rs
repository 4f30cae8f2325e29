//! In-memory placement: a worker connected to this replica, with credits, that fits a task
//! now; and the `assign` frame that hands a task to it.

use std::sync::Arc;

use canopy_shared::matching::Requirements;
use canopy_shared::protocol::{encode_body, Assignment, FunctionSpec, TaskRequest};
use uuid::Uuid;

use crate::dispatch::policy::{order, Offer};
use crate::dispatch::SessionHandle;
use crate::state::AppState;

/// What a task of `account` running this function version needs of a node.
pub(super) fn requirements(account: Uuid, function: &FunctionSpec) -> Requirements {
    Requirements {
        account,
        lang: function.lang,
        capabilities: function.capabilities,
        custom_image: function.image.is_some(),
    }
}

/// Books `task` on a ready worker that fits it, in the order of `dispatch::policy::rank`: one
/// holding the function version warm first, then the greenest grid, then (for a task in a hurry)
/// the nearest, then the one with the most credits; `None` when none fits (the task is queued
/// for the scheduler).
pub(super) fn place(
    state: &AppState,
    task: Uuid,
    requirements: &Requirements,
    version: &str,
    in_a_hurry: bool,
) -> Option<Arc<SessionHandle>> {
    let mut ready = state.registry.ready();
    if ready.len() > 1 {
        let offers: Vec<Offer> = ready
            .iter()
            .map(|session| Offer {
                warm: session.is_warm(version),
                intensity: session.carbon_intensity(),
                latency_ms: session.latency_ms(),
                credits: session.credits(),
            })
            .collect();
        let mut slots: Vec<Option<Arc<SessionHandle>>> = ready.into_iter().map(Some).collect();
        ready = order(&offers, in_a_hurry)
            .into_iter()
            .filter_map(|index| slots[index].take())
            .collect();
    }
    let session = ready
        .into_iter()
        .filter(|session| !session.close.is_cancelled())
        .find(|session| session.try_reserve(task, requirements))?;
    state.registry.settle(&session);
    Some(session)
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
