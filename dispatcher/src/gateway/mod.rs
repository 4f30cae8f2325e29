//! The worker gateway: `GET /v1/worker/connect` (WebSocket, node token) and
//! `GET /v1/worker/artifact/{sha256}` (code packages, node token).

mod artifact;
mod budget;
mod energy;
mod handler;
mod opening;
mod paced;
mod session;

use actix_web::http::header;
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
pub(crate) async fn authenticate_node(req: &HttpRequest, state: &AppState) -> ApiResult<Uuid> {
    let value = req
        .headers()
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

/// Opens a worker's WebSocket. The node token is checked before the upgrade.
#[get("/worker/connect")]
async fn connect(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let node_id = authenticate_node(&req, &state).await?;
    let paced = paced::Paced::new(body, state.dispatch.max_frame_bytes);
    let oversized = std::sync::Arc::clone(&paced.oversized);
    let paced: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>>>,
    > = Box::pin(paced);
    let mut paced = actix_web::dev::Payload::Stream { payload: paced };
    let body = <web::Payload as actix_web::FromRequest>::from_request(&req, &mut paced)
        .await
        .map_err(|error| ApiError::internal(anyhow::anyhow!("while pacing the socket: {error}")))?;
    let (response, socket, stream) = actix_ws::handle(&req, body).map_err(|error| {
        ApiError::bad_request(
            "NOT_A_WEBSOCKET",
            format!("expected a WebSocket upgrade: {error}"),
        )
    })?;
    actix_web::rt::spawn(session::run(
        state.into_inner(),
        node_id,
        socket,
        stream,
        oversized,
    ));
    Ok(response)
}
