//! One worker connection: opened (`opening.rs`: `hello` → `welcome`), then messages both ways,
//! pings for latency, and clean-up (with a grace period for the node's tasks) when the socket ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_http::ws::{CloseCode, CloseReason, ProtocolError};
use canopy_shared::protocol::{DispatcherMessage, WorkerMessage};
use tokio::sync::mpsc;
use tracing::Instrument;
use uuid::Uuid;

use super::budget::MessageBudget;
use super::frames::Message;
use super::handler;
use super::opening;
use super::socket::{self, SocketReader, SocketWriter};
use crate::db;
use crate::dispatch::{Metrics, SessionHandle};
use crate::state::AppState;

/// Why a connection is closed by the dispatcher.
#[derive(Debug)]
pub(super) struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
        }
    }
}

pub(super) async fn run(
    state: Arc<AppState>,
    node_id: Uuid,
    mut reader: SocketReader,
    mut writer: SocketWriter,
) {
    let span = tracing::info_span!("worker", node.id = %canopy_shared::format_id(node_id), session.id = tracing::field::Empty);
    async move {
        // Boxed, and freed once open: an idle session's future then holds only its serving loop.
        let opened = Box::pin(opening::open(&state, node_id, &mut reader)).await;
        let (handle, mut outbound_rx) = match opened {
            Ok(opened) => opened,
            Err(refusal) => return refuse(&state, reader, writer, refusal).await,
        };
        let session_id = handle.session_id;
        let outcome = if send(&mut writer, &opening::welcome(&state, session_id)).await {
            serve(&state, &handle, &mut reader, &mut writer, &mut outbound_rx).await
        } else {
            Err(Refusal::new("GONE", "the socket closed"))
        };
        state.registry.remove(node_id, session_id);
        if let Ok(mut conn) = state.pool.acquire().await {
            if let Err(error) = db::nodes::mark_disconnected(&mut conn, node_id, session_id).await {
                tracing::warn!(error = %error, "could not record the disconnection");
            }
        }
        match outcome {
            Ok(reason) => {
                tracing::info!(reason, "worker disconnected");
                socket::close(reader, writer, None).await;
            }
            Err(refusal) => refuse(&state, reader, writer, refusal).await,
        }
    }
    .instrument(span)
    .await;
}

/// Serves an established connection until it ends; `Ok` carries a reason for a normal end.
async fn serve(
    state: &Arc<AppState>,
    handle: &Arc<SessionHandle>,
    reader: &mut SocketReader,
    writer: &mut SocketWriter,
    outbound: &mut mpsc::UnboundedReceiver<Box<DispatcherMessage>>,
) -> Result<&'static str, Refusal> {
    let interval = Duration::from_millis(state.dispatch.heartbeat_interval_ms);
    let mut ping = tokio::time::interval(interval);
    let started = Instant::now();
    let mut last_heard = Instant::now();
    let mut budget = MessageBudget::new(state.dispatch.worker_message_rate);
    loop {
        tokio::select! {
            _ = handle.close.cancelled() => {
                return match handle.refusal() {
                    Some(reason) => Err(Refusal::new(reason.code, reason.message)),
                    None => Ok("closed by the dispatcher (node deleted or replaced)"),
                };
            }
            Some(message) = outbound.recv() => {
                if !send(writer, &message).await {
                    return Ok("socket closed");
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > interval * 3 {
                    return Ok("no message or pong for three heartbeat intervals");
                }
                let sent_at = started.elapsed().as_micros() as u64;
                if writer.ping(&sent_at.to_be_bytes()).await.is_err() {
                    return Ok("socket closed");
                }
            }
            frame = reader.next() => {
                last_heard = Instant::now();
                match frame {
                    None => return Ok("socket closed"),
                    Some(Err(error)) => return Err(frame_error(&error)),
                    Some(Ok(Message::Ping(bytes))) => {
                        if writer.pong(&bytes).await.is_err() {
                            return Ok("socket closed");
                        }
                    }
                    Some(Ok(Message::Pong(bytes))) => record_round_trip(handle, &bytes, started),
                    Some(Ok(Message::Close)) => return Ok("worker closed the socket"),
                    Some(Ok(Message::Binary)) => return Err(Refusal::new("BINARY_FRAME", "messages are JSON text frames")),
                    Some(Ok(Message::Text(text))) => {
                        let message = parse(&text)?;
                        if let WorkerMessage::Goodbye { reason } = &message {
                            tracing::info!(reason = %reason, "worker said goodbye");
                            return Ok("goodbye");
                        }
                        // Messages about attempts this worker holds are bounded by the credits it
                        // was granted; everything else spends the flood budget.
                        if !Box::pin(handler::handle(state, handle, message)).await? && !budget.take() {
                            return Err(Refusal::new("FLOOD", "too many messages; slow down"));
                        }
                    }
                }
            }
        }
    }
}

fn record_round_trip(handle: &SessionHandle, payload: &[u8], started: Instant) {
    let Ok(bytes) = <[u8; 8]>::try_from(payload) else {
        return;
    };
    let sent_at = u64::from_be_bytes(bytes);
    let now = started.elapsed().as_micros() as u64;
    if let Some(round_trip_us) = now.checked_sub(sent_at) {
        // Round up so a loopback node reads 1 ms, not 0 ("any").
        handle.set_latency(u32::try_from(round_trip_us.div_ceil(1000)).unwrap_or(u32::MAX));
    }
}

pub(super) fn parse(text: &[u8]) -> Result<WorkerMessage, Refusal> {
    serde_json::from_slice(text).map_err(|error| {
        Refusal::new(
            "MALFORMED_MESSAGE",
            format!("cannot read the message: {error}"),
        )
    })
}

pub(super) async fn send(writer: &mut SocketWriter, message: &DispatcherMessage) -> bool {
    match serde_json::to_vec(message) {
        Ok(text) => writer.text(&text).await.is_ok(),
        Err(error) => {
            tracing::error!(error = %error, "could not encode a message");
            false
        }
    }
}

pub(super) fn frame_error(error: &ProtocolError) -> Refusal {
    match error {
        ProtocolError::Overflow => Refusal::new(
            "MESSAGE_TOO_LARGE",
            "a message is larger than the frame limit in welcome",
        ),
        // A reset or half-closed connection is a disconnect, not a protocol violation.
        ProtocolError::Io(_) => Refusal::new("GONE", "the socket closed"),
        other => Refusal::new("BAD_FRAME", format!("unreadable frame: {other}")),
    }
}

/// Tells the worker why, then closes: one bad connection never affects another.
async fn refuse(
    state: &AppState,
    reader: SocketReader,
    mut writer: SocketWriter,
    refusal: Refusal,
) {
    if !matches!(refusal.code, "GONE" | "UNAVAILABLE") {
        Metrics::incr(&state.metrics.protocol_violations);
    }
    if refusal.code == "GONE" {
        return;
    }
    tracing::warn!(code = refusal.code, message = %refusal.message, "closing a worker connection");
    let error = DispatcherMessage::Error {
        code: refusal.code.to_owned(),
        message: refusal.message.clone(),
    };
    if send(&mut writer, &error).await {
        let reason = CloseReason {
            code: CloseCode::Policy,
            description: Some(refusal.code.to_owned()),
        };
        socket::close(reader, writer, Some(reason)).await;
    }
}
