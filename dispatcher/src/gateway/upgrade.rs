//! WebSocket upgrades. actix-http hands every `Upgrade: websocket` request here, before routing:
//! `GET /v1/worker/connect` with a valid node token becomes a worker session that owns its TCP
//! socket (`socket.rs`); anything else gets its problem document and the connection is closed.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use actix_codec::Framed;
use actix_http::body::{BodySize, BoxBody};
use actix_http::{h1, ws, ConnectionType, Method, Request, Response, StatusCode};
use actix_web::{HttpMessage, ResponseError};
use futures_util::SinkExt;
use tokio::net::TcpStream;
use uuid::Uuid;

use super::{session, socket};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::telemetry::access;

/// Where workers connect.
pub const CONNECT_PATH: &str = "/v1/worker/connect";

/// The upgrade service (see `startup.rs`); an error ends only this connection.
pub async fn serve(
    state: Arc<AppState>,
    (request, mut framed): (Request, Framed<TcpStream, h1::Codec>),
) -> Result<(), actix_web::Error> {
    let started = Instant::now();
    let node_id = match accept(&state, &request).await {
        Ok(node_id) => node_id,
        Err(error) => {
            access::log_line(
                request.method(),
                request.path(),
                error.status(),
                error.code(),
                started,
            );
            return Ok(refuse(framed, &error).await?);
        }
    };
    let response = ws::handshake_response(request.head())
        .message_body(())
        .map_err(|error| io::Error::other(error.to_string()))?;
    framed.send((response, BodySize::None).into()).await?;
    access::log_line(
        &Method::GET,
        CONNECT_PATH,
        StatusCode::SWITCHING_PROTOCOLS,
        "",
        started,
    );
    let parts = framed.into_parts();
    let (reader, writer) = socket::split(parts.io, &parts.read_buf, state.dispatch.max_frame_bytes);
    actix_web::rt::spawn(session::run(state, node_id, reader, writer));
    Ok(())
}

/// The node whose worker may connect: the path, the node token, then the handshake headers.
async fn accept(state: &AppState, request: &Request) -> ApiResult<Uuid> {
    if request.path() != CONNECT_PATH || request.method() != Method::GET {
        return Err(ApiError::not_found(
            "ROUTE_NOT_FOUND",
            format!(
                "no WebSocket endpoint {} {}; workers connect with GET {CONNECT_PATH}",
                request.method(),
                request.path()
            ),
        ));
    }
    let node_id = super::authenticate_node(request.headers(), state).await?;
    ws::verify_handshake(request.head()).map_err(|error| {
        ApiError::bad_request(
            "NOT_A_WEBSOCKET",
            format!("expected a WebSocket upgrade: {error}"),
        )
    })?;
    Ok(node_id)
}

/// Answers with the problem document and closes the connection.
async fn refuse(mut framed: Framed<TcpStream, h1::Codec>, error: &ApiError) -> io::Result<()> {
    let response: Response<BoxBody> = error.error_response().into();
    let (mut head, body) = response.into_parts();
    head.head_mut().set_connection_type(ConnectionType::Close);
    let body = actix_web::body::to_bytes(body)
        .await
        .map_err(|error| io::Error::other(error.to_string()))?;
    framed
        .send(h1::Message::Item((
            head,
            BodySize::Sized(body.len() as u64),
        )))
        .await?;
    framed.send(h1::Message::Chunk(Some(body))).await?;
    framed.send(h1::Message::Chunk(None)).await?;
    framed.close().await
}
