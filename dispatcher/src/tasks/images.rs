//! Custom images' pins: the image id the first worker resolved a function's image to, recorded
//! on the function so every later start on any worker uses exactly that image.

use canopy_shared::image::ImagePin;
use uuid::Uuid;

use super::TaskError;
use crate::db;
use crate::state::AppState;

/// Records `pin`, reported with a result of `task`, unless the function is pinned already or
/// its image changed meanwhile. A malformed id is ignored (the worker is at fault, not the task).
pub async fn record_image_pin(
    state: &AppState,
    task: Uuid,
    pin: &ImagePin,
) -> Result<(), TaskError> {
    let well_formed = pin.id.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    });
    if !well_formed {
        tracing::warn!(task.id = %canopy_shared::format_id(task), image.id = %pin.id, "ignored a malformed image pin");
        return Ok(());
    }
    let mut conn = state.pool.acquire().await?;
    if db::images::pin_for_task(&mut conn, task, &pin.reference, &pin.id).await? {
        tracing::info!(task.id = %canopy_shared::format_id(task), image.reference = %pin.reference, image.id = %pin.id, "custom image pinned");
    }
    Ok(())
}
