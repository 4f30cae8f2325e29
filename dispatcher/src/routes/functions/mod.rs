//! `/v1/function/*`: the GreenCloud function API (create, edit, get, list, list by tag,
//! togglePause, delete, restore, capabilities), prewarm and verification.

pub(super) mod create;
pub(super) mod prewarm;
pub(super) mod read;
pub(super) mod update;
pub(super) mod verification;
pub(super) mod view;

use actix_web::web;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db;
use crate::error::{ApiError, ApiResult, FieldError};

pub use view::TagView;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // `list` before `{id}` so "list" is never taken for an id.
    cfg.service(read::list_functions)
        .service(create::create_function)
        .service(read::get_function)
        .service(update::edit_function)
        .service(update::toggle_pause)
        .service(update::delete_function)
        .service(update::restore_function)
        .service(read::get_capabilities)
        .service(update::set_capabilities)
        .service(verification::get_verification)
        .service(verification::set_verification)
        .service(prewarm::prewarm_function);
}

fn not_found(raw: &str) -> ApiError {
    ApiError::not_found("FUNCTION_NOT_FOUND", format!("no function with id {raw:?}"))
}

fn function_id(raw: &str) -> ApiResult<Uuid> {
    super::path_id(raw, "FUNCTION_NOT_FOUND", "function")
}

/// Parses tag ids from a request and checks that each is one of the caller's tags.
async fn owned_tags(
    conn: &mut PgConnection,
    account_id: Uuid,
    raw: &[String],
) -> ApiResult<Vec<Uuid>> {
    let ids: Vec<Uuid> = raw
        .iter()
        .filter_map(|text| canopy_shared::parse_id(text))
        .collect();
    let owned = db::tags::owned_among(conn, account_id, &ids).await?;
    let unknown: Vec<FieldError> = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| !owned.contains(id))
        .map(|(index, _)| FieldError::new(format!("tag[{index}]"), "is not one of your tags"))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::validation(unknown));
    }
    Ok(ids)
}
