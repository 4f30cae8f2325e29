//! `/v1/node`: volunteers' machines. A worker generates its id (the "hash"), registers it here
//! and gets a node token, shown once, for the worker gateway.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use canopy_shared::api::node::{NodeToken, NodeView};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::secret;
use crate::db;
use crate::db::nodes::{NodeRow, Restore};
use crate::domain::rules;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, OptionalJson, Role, ValidJson};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_nodes)
        .service(register_node)
        .service(delete_node)
        .service(set_volunteer)
        .service(restore_node);
}

/// Body of `POST /v1/node/{hash}`.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterNode {
    #[validate(length(max = 256, message = "must be at most 256 characters"), custom(function = rules::printascii))]
    pub description: Option<String>,
}

/// Body of `POST /v1/node/{hash}/volunteer`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetVolunteer {
    pub volunteer: bool,
}

fn view(row: NodeRow, show_owner: bool) -> NodeView {
    let disabled = row.deleted_at.is_some();
    let connected = row.connected && !disabled;
    let paused = connected && row.owner_paused_at.is_some();
    let state = match (disabled, connected, paused) {
        (true, _, _) => "disabled",
        (_, false, _) => "offline",
        (_, _, true) => "paused by owner",
        _ => "online",
    };
    NodeView {
        state: state.to_owned(),
        paused_reason: row.owner_paused_reason.filter(|_| paused),
        paused_since: row.owner_paused_at.filter(|_| paused),
        hash: canopy_shared::format_id(row.id),
        description: row.description,
        volunteer: row.volunteer,
        available: row.connected && !disabled,
        disabled,
        connected: row.connected && !disabled,
        last_seen: row.last_seen_at,
        resources: row.resources,
        latency_ms: row.latency_ms,
        carbon_intensity: None,
        running_tasks: row.running_tasks,
        free_slots: None,
        trust_score: row.trust_score,
        votes_agreed: row.votes_agreed,
        votes_disagreed: row.votes_disagreed,
        owner: show_owner.then(|| canopy_shared::format_id(row.account_id)),
        created_at: row.created_at,
    }
}

fn node_id(raw: &str) -> ApiResult<Uuid> {
    canopy_shared::parse_id(raw).ok_or_else(|| {
        ApiError::invalid_field("hash", "must be a UUID (32 hex characters or dashed)")
    })
}

fn not_found(raw: &str) -> ApiError {
    ApiError::not_found("NODE_NOT_FOUND", format!("no node {raw:?}"))
}

/// Admins act on any node; users on their own.
fn owner_scope(user: &AuthUser) -> Option<Uuid> {
    (user.role != Role::Admin).then_some(user.account_id)
}

/// Registers a node the worker generated the id of. The token in the response is shown once.
#[utoipa::path(tag = "node", security(("bearer" = [])), params(("hash" = String, Path)), request_body = RegisterNode,
    responses((status = 201, description = "`{hash, token}`"), (status = 400, body = crate::error::Problem), (status = 409, description = "NODE_EXISTS")))]
#[post("/node/{hash}")]
pub async fn register_node(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: OptionalJson<RegisterNode>,
) -> ApiResult<HttpResponse> {
    let id = node_id(&path)?;
    let token = format!("cnode_{}", secret::random_hex(20));
    let mut conn = state.pool.acquire().await?;
    db::nodes::insert(
        &mut conn,
        id,
        user.account_id,
        body.0.description.as_deref().unwrap_or_default(),
        &secret::digest(&token),
    )
    .await?;
    tracing::info!(node.id = %canopy_shared::format_id(id), "node registered");
    Ok(HttpResponse::Created().json(NodeToken {
        hash: canopy_shared::format_id(id),
        token,
    }))
}

/// The caller's nodes (admins: every node), with connection state, resources and load.
#[utoipa::path(tag = "node", security(("bearer" = [])), responses((status = 200, body = [NodeView])))]
#[get("/node/list")]
pub async fn list_nodes(user: AuthUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.acquire().await?;
    let rows = db::nodes::list(
        &mut conn,
        owner_scope(&user),
        state.dispatch.connected_window_s(),
    )
    .await?;
    let admin = user.role == Role::Admin;
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(|row| {
                let session = state.registry.get(row.id);
                let live = session
                    .as_ref()
                    .and_then(|session| session.carbon_intensity());
                let mut node = view(row, admin);
                node.free_slots = session.map(|session| session.credits());
                node.carbon_intensity = live.or_else(|| {
                    let reported = node
                        .resources
                        .as_ref()?
                        .pointer("/energy/carbonIntensity")?;
                    u32::try_from(reported.as_u64()?).ok()
                });
                node
            })
            .collect::<Vec<_>>(),
    ))
}

/// Deletes a node: its token is revoked and its worker's socket closed at once.
#[utoipa::path(tag = "node", security(("bearer" = [])), params(("hash" = String, Path)),
    responses((status = 204), (status = 404, description = "NODE_NOT_FOUND")))]
#[delete("/node/{hash}")]
pub async fn delete_node(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = node_id(&path)?;
    let mut conn = state.pool.acquire().await?;
    if !db::nodes::soft_delete(&mut conn, id, owner_scope(&user)).await? {
        return Err(not_found(&path));
    }
    let was_connected = state.registry.disconnect(id);
    tracing::info!(node.id = %canopy_shared::format_id(id), was_connected, "node deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// Restores a deleted node with a new token (shown once; the old one stays revoked).
#[utoipa::path(tag = "node", security(("bearer" = [])), params(("hash" = String, Path)),
    responses((status = 200, description = "`{hash, token}`"), (status = 404, description = "NODE_NOT_FOUND"), (status = 409, description = "NODE_NOT_DELETED")))]
#[patch("/node/{hash}")]
pub async fn restore_node(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = node_id(&path)?;
    let token = format!("cnode_{}", secret::random_hex(20));
    let mut conn = state.pool.acquire().await?;
    match db::nodes::restore(&mut conn, id, owner_scope(&user), &secret::digest(&token)).await? {
        Restore::Restored => Ok(HttpResponse::Ok().json(NodeToken {
            hash: canopy_shared::format_id(id),
            token,
        })),
        Restore::NotDeleted => Err(ApiError::conflict(
            "NODE_NOT_DELETED",
            "the node is not deleted",
        )),
        Restore::NotFound => Err(not_found(&path)),
    }
}

/// Offers the node to other accounts' functions that allow volunteers, or stops offering it.
/// Tasks it already runs finish; from now on it is matched with the new rule.
#[utoipa::path(tag = "node", security(("bearer" = [])), params(("hash" = String, Path)), request_body = SetVolunteer,
    responses((status = 204), (status = 400, body = crate::error::Problem), (status = 404, description = "NODE_NOT_FOUND")))]
#[post("/node/{hash}/volunteer")]
pub async fn set_volunteer(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ValidJson<SetVolunteer>,
) -> ApiResult<HttpResponse> {
    let id = node_id(&path)?;
    let mut conn = state.pool.acquire().await?;
    if !db::trust::set_volunteer(&mut conn, id, owner_scope(&user), body.0.volunteer).await? {
        return Err(not_found(&path));
    }
    tracing::info!(node.id = %canopy_shared::format_id(id), volunteer = body.0.volunteer, "node volunteer flag set");
    Ok(HttpResponse::NoContent().finish())
}
