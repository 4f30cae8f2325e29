//! The claim path for queued tasks: for each worker of this replica with credits, claim queued
//! tasks that fit it (`FOR UPDATE SKIP LOCKED`, so replicas never hand out the same task) and
//! send `assign`. Tasks that found a worker at submission never come here.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use canopy_shared::matching::{check, Requirements};
use canopy_shared::protocol::{DispatcherMessage, FunctionSpec};
use canopy_shared::Lang;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::placement::{assignment, wire_request};
use crate::db;
use crate::db::assignments::{Assigned, Candidate, Serving};
use crate::dispatch::policy::{order, Offer};
use crate::dispatch::{reserved_memory, Metrics, SessionHandle};
use crate::domain::function::capabilities_from_columns;
use crate::state::AppState;

/// Queued tasks looked at per node per pass; the predicate picks among them.
const CANDIDATES_PER_PASS: i64 = 64;
/// Safety net: look for work this often even without a wake-up (backoffs that ran out, missed
/// notifications).
const IDLE_PASS: Duration = Duration::from_secs(1);

/// When to run a pass: woken for new queued tasks, nudged for new credits.
#[derive(Debug)]
pub struct Scheduler {
    wake: Notify,
    /// Some queued task may be waiting in the database. New credits start a pass only then,
    /// so a busy worker's pulls do not each cost a query when everything is assigned at submit.
    maybe_queued: AtomicBool,
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler {
            wake: Notify::new(),
            maybe_queued: AtomicBool::new(true),
        }
    }
}

impl Scheduler {
    /// Tasks may be queued (new, re-queued, unpaused, a new worker): look now.
    pub fn wake(&self) {
        self.maybe_queued.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Whether queued tasks may be waiting for this replica's workers: new submissions then
    /// queue behind them instead of taking credits at submit (first come, first served).
    pub fn may_have_queued(&self) -> bool {
        self.maybe_queued.load(Ordering::Acquire)
    }

    /// A worker has new credits: look if anything may be queued.
    pub fn nudge(&self) {
        if self.maybe_queued.load(Ordering::Acquire) {
            self.wake.notify_one();
        }
    }
}

pub(super) async fn run(state: Arc<AppState>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = state.scheduler.wake.notified() => {}
            _ = tokio::time::sleep(IDLE_PASS) => {}
        }
        if let Err(error) = run_once(&state).await {
            state.scheduler.maybe_queued.store(true, Ordering::Release);
            tracing::warn!(error = ?error, "scheduling pass failed; retrying");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// One pass over the workers with credits; returns how many tasks were assigned.
pub async fn run_once(state: &AppState) -> anyhow::Result<usize> {
    let ready = state.registry.ready();
    // Only a pass that asks on behalf of every worker here can say nothing is left for them.
    if ready.len() == state.registry.len() {
        state.scheduler.maybe_queued.store(false, Ordering::Release);
    }
    let mut assigned = 0;
    for session in greenest_first(ready) {
        if session.credits() == 0 || session.close.is_cancelled() {
            continue;
        }
        assigned += assign_to(state, &session).await?;
    }
    Ok(assigned)
}

/// The workers in `dispatch::policy` order (no warm preference: a pass serves many functions),
/// so each queued task goes to the greenest worker with room that fits it: greener workers
/// claim first, and what they cannot take is left for the next. Among equally green workers the
/// nearest claims first, as for a task in a hurry at submit: a queued task with a deadline
/// (Serverledge's `QoSMaxRespT`) has already waited, and the head of the queue goes to the
/// lowest round trip.
fn greenest_first(ready: Vec<Arc<SessionHandle>>) -> Vec<Arc<SessionHandle>> {
    if ready.len() < 2 {
        return ready;
    }
    let offers: Vec<Offer> = ready
        .iter()
        .map(|session| Offer {
            warm: false,
            intensity: session.carbon_intensity(),
            latency_ms: session.latency_ms(),
            credits: session.credits(),
        })
        .collect();
    let mut slots: Vec<Option<Arc<SessionHandle>>> = ready.into_iter().map(Some).collect();
    order(&offers, true)
        .into_iter()
        .filter_map(|index| slots[index].take())
        .collect()
}

async fn assign_to(state: &AppState, session: &Arc<SessionHandle>) -> anyhow::Result<usize> {
    let slots = session.take_credits(CANDIDATES_PER_PASS as u32);
    if slots == 0 {
        return Ok(0);
    }
    let claimed = claim_for(state, session, slots).await;
    let used = claimed.as_ref().map_or(0, |count| *count as u32);
    state.registry.give_back(session, slots - used);
    state.registry.settle(session);
    claimed
}

/// Claims up to `slots` queued tasks that fit the session and sends them; the credits were
/// taken beforehand.
async fn claim_for(
    state: &AppState,
    session: &Arc<SessionHandle>,
    slots: u32,
) -> anyhow::Result<usize> {
    let Some(mut offer) = session.offer() else {
        return Ok(0);
    };
    offer.free_slots = slots;
    let langs: Vec<String> = offer
        .resources
        .runtimes
        .iter()
        .map(|lang| lang.code().to_owned())
        .collect();
    let mut accounts = offer.trust.pooled.clone();
    accounts.push(offer.trust.owner);
    let serving = Serving {
        owner: offer.trust.owner,
        accounts: &accounts,
        volunteer: offer.trust.volunteer,
        custom_images: offer.resources.allows_custom_images,
    };
    let mut tx = state.pool.begin().await?;
    let candidates =
        db::assignments::lock_candidates(&mut tx, &langs, serving, CANDIDATES_PER_PASS).await?;
    // The node as it is when idle: a task that fits it then waits for this worker's credits.
    let mut idle = offer.clone();
    idle.free_slots = 1;
    idle.free_memory_mb = idle.resources.memory_mb;
    let mut chosen = Vec::new();
    let mut left_behind = false;
    for candidate in &candidates {
        let Some(requirements) = requirements_of(candidate) else {
            continue;
        };
        if offer.free_slots == 0 || check(&requirements, &offer).is_err() {
            left_behind |= check(&requirements, &idle).is_ok();
            continue;
        }
        offer.free_slots -= 1;
        offer.free_memory_mb = offer.free_memory_mb.saturating_sub(reserved_memory(
            u32::try_from(candidate.mem_size_mb).unwrap_or(0),
        ));
        chosen.push(candidate.id);
    }
    if left_behind || candidates.len() as i64 == CANDIDATES_PER_PASS {
        // Queued tasks wait for credits: new submissions queue behind them, and freed credits
        // look again.
        state.scheduler.maybe_queued.store(true, Ordering::Release);
    }
    if chosen.is_empty() {
        return Ok(0);
    }
    let rows = db::assignments::assign(
        &mut tx,
        &chosen,
        session.node_id,
        session.session_id,
        state.lease_ms(),
    )
    .await?;
    tx.commit().await?;
    let count = rows.len();
    Metrics::add(&state.metrics.tasks_assigned, count as u64);
    let mut undelivered = Vec::new();
    for row in rows {
        session.record_claimed(
            row.id,
            reserved_memory(u32::try_from(row.mem_size_mb).unwrap_or(0)),
            row.quorum > 0,
        );
        state.metrics.queue_wait.observe(row.queued_s);
        let (task, attempt) = (row.id, row.attempt);
        if session.close.is_cancelled()
            || !session.send(DispatcherMessage::Assign(Box::new(frame(
                row,
                state.dispatch.lease_ms,
            ))))
        {
            session.release(task);
            undelivered.push((session.node_id, task, attempt));
        }
    }
    super::requeue::requeue_undelivered(state, undelivered).await;
    tracing::debug!(node.id = %canopy_shared::format_id(session.node_id), count, "assigned queued tasks");
    Ok(count)
}

fn requirements_of(candidate: &Candidate) -> Option<Requirements> {
    Some(Requirements {
        account: candidate.account_id,
        lang: Lang::from_code(&candidate.lang)?,
        capabilities: capabilities_from_columns(
            candidate.timeout_s,
            candidate.cpu_count,
            candidate.mem_size_mb,
            candidate.network_latency_ms,
            candidate.privileged,
            candidate.volunteers,
        ),
        custom_image: candidate.custom_image,
    })
}

fn frame(row: Assigned, lease_ms: u64) -> canopy_shared::protocol::Assignment {
    let headers: Vec<(String, String)> =
        serde_json::from_value(row.request_headers).unwrap_or_default();
    let function = FunctionSpec {
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
            row.volunteers,
        ),
        image: custom_image(row.image, row.image_pin),
    };
    let request = wire_request(
        row.request_method,
        row.request_query,
        headers,
        row.request_content_type,
        &row.request_body,
    );
    assignment(row.id, row.attempt, lease_ms, function, request)
}

/// The wire form of a function's custom image and its pin.
pub(super) fn custom_image(
    image: Option<String>,
    pin: Option<String>,
) -> Option<canopy_shared::image::CustomImage> {
    image.map(|reference| canopy_shared::image::CustomImage { reference, pin })
}
