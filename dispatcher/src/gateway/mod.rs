//! The worker gateway: `GET /v1/worker/connect` (WebSocket, node token) and
//! `GET /v1/worker/artifact/{sha256}` (code packages, node token).

mod artifact;
mod budget;
mod energy;
mod frames;
mod handler;
mod opening;
mod session;
mod socket;
pub mod upgrade;

use actix_web::http::header::{self, HeaderMap};
use actix_web::{get, web, HttpRequest, HttpResponse};
use uuid::Uuid;

use crate::auth::secret;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(connect).service(artifact::artifact);
}

/// The node behind the request's node token.
pub(crate) async fn authenticate_node(headers: &HeaderMap, state: &AppState) -> ApiResult<Uuid> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "NEEDS_NODE_TOKEN",
                "send the node token as `Authorization: Bearer <token>`",
            )
        })?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .unwrap_or(value)
        .trim();
    let mut conn = state.pool.acquire().await?;
    db::nodes::authenticate(&mut conn, &secret::digest(token))
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized(
                "INVALID_NODE_TOKEN",
                "the node token is unknown or its node was deleted",
            )
        })
}

/// A plain GET of the connect path: upgrade requests never reach here (`upgrade.rs` takes them
/// before routing), so this one is told what it lacks.
#[get("/worker/connect")]
async fn connect(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    authenticate_node(req.headers(), &state).await?;
    Err(ApiError::bad_request(
        "NOT_A_WEBSOCKET",
        "expected a WebSocket upgrade: send `Connection: Upgrade` and `Upgrade: websocket`",
    ))
}
