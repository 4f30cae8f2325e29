//! The socket's two halves: a writer task fed by a channel (it gives back the results it could
//! not send) and a reader that yields the dispatcher's messages.

use canopy_shared::protocol::{DispatcherMessage, TaskResult, WorkerMessage};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, warn};

use super::Socket;

/// What the writer task is asked to do.
pub(super) enum Outgoing {
    // Boxed: a `hello` is large and most messages are small.
    Send(Box<WorkerMessage>),
    Close,
}

/// Writes messages in order; on a write failure returns the results it could not send.
pub(super) async fn write_loop(
    mut sink: SplitSink<Socket, Message>,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
) -> Vec<TaskResult> {
    while let Some(outgoing) = rx.recv().await {
        let message = match outgoing {
            Outgoing::Send(message) => *message,
            Outgoing::Close => {
                let _ = sink.send(Message::Close(None)).await;
                break;
            }
        };
        let text = match serde_json::to_string(&message) {
            Ok(text) => text,
            Err(error) => {
                warn!(%error, "cannot encode a message; dropped");
                continue;
            }
        };
        if let Err(error) = sink.send(Message::text(text)).await {
            debug!(%error, "write failed");
            rx.close();
            let mut unsent: Vec<TaskResult> = result_of(message).into_iter().collect();
            while let Ok(outgoing) = rx.try_recv() {
                if let Outgoing::Send(message) = outgoing {
                    unsent.extend(result_of(*message));
                }
            }
            return unsent;
        }
    }
    let _ = sink.close().await;
    Vec::new()
}

pub(super) fn result_of(message: WorkerMessage) -> Option<TaskResult> {
    match message {
        WorkerMessage::Result(result) => Some(result),
        _ => None,
    }
}

/// The channel to the writer; results that cannot be queued are kept for the next session.
#[derive(Clone)]
pub(super) struct Outbox {
    pub(super) tx: mpsc::UnboundedSender<Outgoing>,
}

impl Outbox {
    /// Queues a message; gives it back when the writer is gone.
    pub(super) fn send(&self, message: WorkerMessage) -> Option<WorkerMessage> {
        match self.tx.send(Outgoing::Send(Box::new(message))) {
            Ok(()) => None,
            Err(error) => match error.0 {
                Outgoing::Send(message) => Some(*message),
                Outgoing::Close => None,
            },
        }
    }

    /// Asks the writer to close the socket after what is queued.
    pub(super) fn close(&self) {
        let _ = self.tx.send(Outgoing::Close);
    }
}

pub(super) async fn next_message(
    stream: &mut SplitStream<Socket>,
) -> Result<DispatcherMessage, String> {
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(text.as_str())
                    .map_err(|e| format!("unreadable message from the dispatcher: {e}"));
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(match frame {
                    Some(frame) => {
                        format!("closed by the dispatcher: {} {}", frame.code, frame.reason)
                    }
                    None => "closed by the dispatcher".to_owned(),
                })
            }
            // Pings are answered by tungstenite while we read; pongs and binary are ignored.
            Some(Ok(_)) => continue,
            Some(Err(error)) => return Err(error.to_string()),
            None => return Err("the connection ended".to_owned()),
        }
    }
}
