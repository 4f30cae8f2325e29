//! A worker's WebSocket, served by its session straight on the TCP socket once upgraded.
//!
//! actix-web would keep an upgraded connection inside its HTTP/1 dispatcher: two 8 KiB buffers
//! per connection for as long as it lives, and a channel hop for every frame each way. Here a
//! read buffer exists only while a frame is partly in (`frames.rs`) and a write buffer only
//! while a frame is being written, so an idle worker costs little more than its session.

use std::io;
use std::time::Duration;

use actix_http::ws::{CloseReason, OpCode, Parser, ProtocolError};
use actix_web::web::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::frames::{FrameDecoder, Message};

/// Bytes taken from the socket per read: a frame's limit plus this is the most a connection
/// holds while reading.
const READ_CHUNK: usize = 8 * 1024;

/// How long a closed connection keeps reading (and discarding) what the worker still sends,
/// so the close frame is not lost to a reset.
const LINGER: Duration = Duration::from_secs(1);

/// A worker that takes longer than this to accept a frame is gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) struct SocketReader {
    half: OwnedReadHalf,
    decoder: FrameDecoder,
}

pub(super) struct SocketWriter {
    half: OwnedWriteHalf,
}

/// The two directions of an upgraded socket; `leftover` is what arrived behind the request.
pub(super) fn split(
    stream: TcpStream,
    leftover: &[u8],
    max_frame: usize,
) -> (SocketReader, SocketWriter) {
    let (read, write) = stream.into_split();
    let reader = SocketReader {
        half: read,
        decoder: FrameDecoder::new(max_frame, leftover),
    };
    (reader, SocketWriter { half: write })
}

impl SocketReader {
    /// The next whole message; `None` once the worker closed the socket. Cancel-safe: bytes
    /// read stay in the decoder.
    pub(super) async fn next(&mut self) -> Option<Result<Message, ProtocolError>> {
        loop {
            match self.decoder.next_message() {
                Ok(Some(message)) => return Some(Ok(message)),
                Ok(None) => {}
                Err(error) => return Some(Err(error)),
            }
            match self.read_chunk().await {
                Ok(0) => return None,
                Ok(_) => {}
                Err(error) => return Some(Err(ProtocolError::Io(error))),
            }
        }
    }

    async fn read_chunk(&mut self) -> io::Result<usize> {
        loop {
            self.half.readable().await?;
            match read_into(&self.half, &mut self.decoder) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                outcome => return outcome,
            }
        }
    }

    /// Discards what the worker still sends, until it closes or `LINGER` passes.
    async fn drain(self) {
        let _ = tokio::time::timeout(LINGER, async {
            let mut chunk = [0u8; 1024];
            loop {
                if self.half.readable().await.is_err() {
                    return;
                }
                match self.half.try_read(&mut chunk) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        })
        .await;
        drop(self.decoder);
    }
}

/// One read on a socket that reported readiness; the stack chunk keeps an idle session's future
/// free of any buffer.
fn read_into(half: &OwnedReadHalf, decoder: &mut FrameDecoder) -> io::Result<usize> {
    let mut chunk = [0u8; READ_CHUNK];
    let read = half.try_read(&mut chunk)?;
    decoder.extend(&chunk[..read]);
    Ok(read)
}

impl SocketWriter {
    pub(super) async fn text(&mut self, payload: &[u8]) -> io::Result<()> {
        self.frame(payload, OpCode::Text).await
    }

    pub(super) async fn ping(&mut self, payload: &[u8]) -> io::Result<()> {
        self.frame(payload, OpCode::Ping).await
    }

    pub(super) async fn pong(&mut self, payload: &[u8]) -> io::Result<()> {
        self.frame(payload, OpCode::Pong).await
    }

    async fn frame(&mut self, payload: &[u8], op: OpCode) -> io::Result<()> {
        let mut bytes = BytesMut::new();
        Parser::write_message(&mut bytes, payload, op, true, false);
        self.write(&bytes).await
    }

    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        tokio::time::timeout(WRITE_TIMEOUT, self.half.write_all(bytes))
            .await
            .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
    }
}

/// Sends a close frame, ends the sending side, and reads out the rest before the socket goes.
pub(super) async fn close(
    reader: SocketReader,
    mut writer: SocketWriter,
    reason: Option<CloseReason>,
) {
    let mut bytes = BytesMut::new();
    Parser::write_close(&mut bytes, reason, false);
    if writer.write(&bytes).await.is_ok() {
        let _ = writer.half.shutdown().await;
        reader.drain().await;
    }
}
