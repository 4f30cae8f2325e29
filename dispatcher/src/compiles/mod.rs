//! Compile jobs (GO, RS, CS): a `PENDING` build with a source package is compiled once, on a node of
//! the function's own account or of one of its pools — never on a volunteer of another account,
//! since the compiled package is served to every node that runs the function. The job lives in
//! Postgres (the build row); this loop offers it, and re-offers it when the node is gone or its
//! time is up. The node answers over HTTP (`report`).

mod report;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use canopy_shared::protocol::{CompileJob, CompileLimits, DispatcherMessage};
use canopy_shared::Lang;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::db;
use crate::db::compiles::CompileJobRow;
use crate::dispatch::SessionHandle;
use crate::state::AppState;

/// Time between looks at the open jobs.
const TICK: Duration = Duration::from_secs(1);
/// An offer older than this is lost (the compile's time limit plus the upload).
const OFFER_S: f64 = 180.0;
/// Offers of one build at most; past them the build stays `PENDING` and its tasks keep
/// compiling at cold start.
pub const MAX_ATTEMPTS: i32 = 3;
/// Jobs looked at per tick.
const BATCH: i64 = 50;

/// Registers the workers' answers inside the `/v1` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    report::configure(cfg);
}

/// Starts the offer loop; it stops with `shutdown`.
pub fn spawn(state: &Arc<AppState>, shutdown: &CancellationToken) {
    let (state, shutdown) = (Arc::clone(state), shutdown.clone());
    tokio::spawn(async move {
        loop {
            if let Err(error) = run_once(&state).await {
                tracing::warn!(error = %error, "could not offer compile jobs");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    });
}

/// Offers every open job without a live offer to an eligible connected node that has no other
/// job; returns how many were offered.
pub async fn run_once(state: &AppState) -> sqlx::Result<usize> {
    let mut conn = state.pool.acquire().await?;
    let window = state.dispatch.connected_window_s();
    let jobs = db::compiles::open_jobs(&mut conn, OFFER_S, BATCH, state.replica_id, window).await?;
    let sessions = state.registry.snapshot();
    // A job whose node is still connected (to this replica or another) and within its time is
    // at work.
    let mut busy: HashSet<Uuid> = jobs
        .iter()
        .filter(|job| job.offer_live)
        .filter_map(|job| job.compile_node_id)
        .collect();
    let mut offered = 0;
    for job in &jobs {
        let connected = job.node_elsewhere
            || job
                .compile_node_id
                .is_some_and(|node| sessions.iter().any(|s| s.node_id == node));
        let at_work = job.offer_live && connected;
        if at_work || job.compile_attempts >= MAX_ATTEMPTS {
            continue;
        }
        let Some(lang) = Lang::from_code(&job.lang) else {
            continue;
        };
        let Some(session) = sessions
            .iter()
            .find(|session| !busy.contains(&session.node_id) && may_compile(session, job, lang))
        else {
            continue;
        };
        if !db::compiles::offer(
            &mut conn,
            job.build_id,
            session.node_id,
            job.compile_attempts,
        )
        .await?
        {
            continue;
        }
        busy.insert(session.node_id);
        let message = DispatcherMessage::Compile(CompileJob {
            build_id: canopy_shared::format_id(job.build_id),
            lang,
            source_sha256: job.source_sha256.clone(),
            limits: CompileLimits::default(),
        });
        // A closed socket leaves the offer to expire like a lost node's.
        session.send(message);
        tracing::info!(build.id = %canopy_shared::format_id(job.build_id), node.id = %canopy_shared::format_id(session.node_id), attempt = job.compile_attempts + 1, "compile job offered");
        offered += 1;
    }
    Ok(offered)
}

/// Whether `session`'s node may compile the job: it says it compiles the language, and it is the
/// account's own node or a pool member's — volunteer trust does not count.
fn may_compile(session: &SessionHandle, job: &CompileJobRow, lang: Lang) -> bool {
    let Some(offer) = session.offer() else {
        return false;
    };
    let trusted =
        offer.trust.owner == job.account_id || offer.trust.pooled.contains(&job.account_id);
    trusted && offer.resources.compiles.contains(&lang) && offer.resources.runtimes.contains(&lang)
}
