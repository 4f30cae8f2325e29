//! `explain`: why a queued task is still waiting, from the connected nodes (live state for
//! those connected to this replica, their last `hello` for the others).

use canopy_shared::matching::{explain as explain_fit, NodeOffer, NodeTrust, Requirements};
use canopy_shared::protocol::Resources;
use canopy_shared::Lang;
use uuid::Uuid;

use super::TaskError;
use crate::db;
use crate::db::carbon::TaskCarbonRow;
use crate::db::tasks::TaskRow;
use crate::domain::function::capabilities_from_columns;
use crate::state::AppState;

/// A sentence saying why `task` (queued, of `account_id`) is not running yet; `carbon` are its
/// carbon columns (a task held for a greener window says until when).
pub async fn explain(
    state: &AppState,
    account_id: Uuid,
    task: &TaskRow,
    carbon: Option<&TaskCarbonRow>,
) -> Result<String, TaskError> {
    let mut conn = state.pool.acquire().await?;
    let function = db::functions::find_live(&mut conn, account_id, task.function_id).await?;
    if function.as_ref().is_some_and(|function| function.paused) {
        return Ok("the function is paused; its queued tasks run after togglePause".to_owned());
    }
    if let Some(reason) = carbon.and_then(|carbon| greener_window(task, carbon)) {
        return Ok(reason);
    }
    let Some(lang) = Lang::from_code(&task.lang) else {
        return Ok(format!("no runtime for {}", task.lang));
    };
    let custom_image = db::images::image_of(&mut conn, task.function_id)
        .await?
        .image
        .is_some();
    let window = state.dispatch.connected_window_s();
    let serving =
        db::nodes::connected_serving(&mut conn, window, account_id, task.volunteers).await?;
    let nodes: Vec<NodeOffer> = serving
        .into_iter()
        .filter_map(|node| {
            if let Some(offer) = state
                .registry
                .get(node.id)
                .and_then(|session| session.offer())
            {
                return Some(offer);
            }
            let resources: Resources = serde_json::from_value(node.resources).ok()?;
            Some(NodeOffer {
                // The database said this node may serve the task's account.
                trust: NodeTrust {
                    owner: account_id,
                    ..NodeTrust::default()
                },
                free_memory_mb: resources.memory_mb,
                latency_ms: node.latency_ms.and_then(|ms| u32::try_from(ms).ok()),
                free_slots: 1,
                resources,
            })
        })
        .collect();
    let requirements = Requirements {
        account: account_id,
        lang,
        capabilities: capabilities_from_columns(
            task.timeout_s,
            task.cpu_count,
            task.mem_size_mb,
            task.network_latency_ms,
            task.privileged,
            task.volunteers,
        ),
        custom_image,
    };
    Ok(explain_fit(&requirements, &nodes))
}

/// "waiting for a greener window until …" for a first attempt held by its deferral (a retry's
/// backoff also sets `not_before`, but only on later attempts).
fn greener_window(task: &TaskRow, carbon: &TaskCarbonRow) -> Option<String> {
    let finish_by = carbon.defer_until?;
    let hold = carbon
        .not_before
        .filter(|hold| *hold > chrono::Utc::now())?;
    (task.attempt == 1).then(|| {
        let format = |at: chrono::DateTime<chrono::Utc>| {
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        format!(
            "waiting for a greener window until {} (it must finish by {})",
            format(hold),
            format(finish_by)
        )
    })
}
