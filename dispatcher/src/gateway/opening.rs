//! Opening a worker connection: `hello` within 10 s, its checks, the connection recorded (the
//! node's unreported tasks re-queued), then `welcome`.

use std::sync::Arc;
use std::time::Duration;

use canopy_shared::protocol::{DispatcherMessage, Hello, Welcome, WorkerMessage, PROTOCOL_VERSION};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::frames::Message;
use super::session::{frame_error, parse, Refusal};
use super::socket::SocketReader;
use crate::db;
use crate::dispatch::{trust, Metrics, SessionHandle};
use crate::state::AppState;
use crate::tasks;

/// Time a worker has to send `hello` after connecting.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// An opened session: its handle and the messages queued for the worker.
type Opened = (
    Arc<SessionHandle>,
    mpsc::UnboundedReceiver<Box<DispatcherMessage>>,
);

/// `hello` → checks → the connection recorded; the refusal to send when it fails on the way.
pub(super) async fn open(
    state: &Arc<AppState>,
    node_id: Uuid,
    reader: &mut SocketReader,
) -> Result<Opened, Refusal> {
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, next_message(reader)).await {
        Ok(Ok(WorkerMessage::Hello(hello))) => hello,
        Ok(Ok(_)) => {
            return Err(Refusal::new(
                "HELLO_EXPECTED",
                "the first message must be hello",
            ))
        }
        Ok(Err(refusal)) => return Err(refusal),
        Err(_) => return Err(Refusal::new("HELLO_TIMEOUT", "no hello within 10 s")),
    };
    check_hello(&hello, node_id)?;
    let session_id = canopy_shared::new_id();
    tracing::Span::current().record(
        "session.id",
        tracing::field::display(canopy_shared::format_id(session_id)),
    );
    let Some(reported) = hello
        .running
        .iter()
        .map(|id| canopy_shared::parse_id(id))
        .collect::<Option<Vec<_>>>()
    else {
        return Err(Refusal::new(
            "MALFORMED_MESSAGE",
            "hello lists a running task that is not a task id",
        ));
    };
    let (outbound, outbound_rx) = mpsc::unbounded_channel();
    let handle = Arc::new(SessionHandle::new(
        node_id,
        session_id,
        hello.resources.clone(),
        outbound,
    ));
    state.carbon_feeds.apply(&handle);
    handle.set_warm(hello.warm_functions.clone());
    let connected = async {
        let mut conn = state.pool.acquire().await?;
        let resources =
            serde_json::to_value(super::energy::stored(&hello.resources)).unwrap_or_default();
        if !db::nodes::mark_connected(
            &mut conn,
            node_id,
            session_id,
            state.replica_id,
            &resources,
            &reported,
        )
        .await?
        {
            return Ok(false);
        }
        // A pause is per connection: a worker still paused says so again after `welcome`.
        db::owner_pause::resume(&mut conn, node_id).await?;
        drop(conn);
        // Replace the node's previous connection before re-queueing what this process does
        // not hold: an assignment racing with the switch then either lands before the
        // re-queue (and is re-queued) or finds its session closed (and re-queues itself).
        state.registry.insert(Arc::clone(&handle));
        // Registered first, serving nobody: a trust change from now on re-reads this session.
        trust::refresh(state, std::slice::from_ref(&handle)).await?;
        tasks::requeue::requeue_unreported(state, node_id, &reported).await?;
        Ok::<_, sqlx::Error>(true)
    }
    .await;
    match connected {
        Ok(true) => {}
        Ok(false) => return Err(Refusal::new("NODE_REVOKED", "this node was deleted")),
        Err(error) => {
            state.registry.remove(node_id, session_id);
            tracing::error!(error = %error, "could not record the connection");
            return Err(Refusal::new(
                "UNAVAILABLE",
                "the dispatcher cannot reach its database",
            ));
        }
    }
    // Its first credits should look for queued work.
    state.scheduler.wake();
    Metrics::incr(&state.metrics.worker_connections);
    tracing::info!(runtimes = ?hello.resources.runtimes, cpus = hello.resources.cpus, memory_mb = hello.resources.memory_mb, "worker connected");

    Ok((handle, outbound_rx))
}

pub(super) fn welcome(state: &AppState, session_id: Uuid) -> DispatcherMessage {
    DispatcherMessage::Welcome(Welcome {
        session_id: canopy_shared::format_id(session_id),
        heartbeat_interval_ms: state.dispatch.heartbeat_interval_ms,
        lease_ms: state.dispatch.lease_ms,
        max_frame_bytes: state.dispatch.max_frame_bytes,
    })
}

fn check_hello(hello: &Hello, node_id: Uuid) -> Result<(), Refusal> {
    if hello.protocol != PROTOCOL_VERSION {
        return Err(Refusal::new(
            "PROTOCOL_MISMATCH",
            format!(
                "protocol {} is not supported; this dispatcher speaks {PROTOCOL_VERSION}",
                hello.protocol
            ),
        ));
    }
    if canopy_shared::parse_id(&hello.node_id) != Some(node_id) {
        return Err(Refusal::new(
            "NODE_MISMATCH",
            "hello names another node than the token's",
        ));
    }
    if hello.resources.max_concurrency == 0 || hello.resources.max_concurrency > 1024 {
        return Err(Refusal::new(
            "INVALID_HELLO",
            "maxConcurrency must be between 1 and 1024",
        ));
    }
    match &hello.resources.energy {
        Some(energy) => super::energy::check(energy),
        None => Ok(()),
    }
}

async fn next_message(reader: &mut SocketReader) -> Result<WorkerMessage, Refusal> {
    loop {
        match reader.next().await {
            None | Some(Ok(Message::Close)) => {
                return Err(Refusal::new("GONE", "the socket closed before hello"))
            }
            Some(Err(error)) => return Err(frame_error(&error)),
            Some(Ok(Message::Text(text))) => return parse(&text),
            Some(Ok(Message::Binary)) => {
                return Err(Refusal::new(
                    "BINARY_FRAME",
                    "messages are JSON text frames",
                ))
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
        }
    }
}
