//! WebSocket frames from a worker, decoded from the bytes read so far.
//!
//! Two limits hold however the peer splits its bytes: a header announcing more than the frame
//! limit is refused as soon as the header is in, before any of its payload is kept (actix-http's
//! parser would first wait for the whole frame); and a message of several frames may not grow
//! past the limit either. The buffer is given back whenever it holds no partial frame, so an
//! idle connection keeps no read buffer at all.

use actix_http::ws::{Codec, Frame, Item, ProtocolError};
use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

/// A whole message from the worker.
#[derive(Debug)]
pub(super) enum Message {
    Text(Bytes),
    Binary,
    Ping(Bytes),
    Pong(Bytes),
    Close,
}

/// A message split over continuation frames, gathered so far.
struct Continuation {
    text: bool,
    bytes: BytesMut,
}

pub(super) struct FrameDecoder {
    buffer: BytesMut,
    codec: Codec,
    max_frame: usize,
    continuation: Option<Continuation>,
}

impl FrameDecoder {
    /// A decoder for a server's side; `leftover` is what arrived behind the upgrade request.
    pub(super) fn new(max_frame: usize, leftover: &[u8]) -> Self {
        FrameDecoder {
            buffer: BytesMut::from(leftover),
            codec: Codec::new().max_size(max_frame),
            max_frame,
            continuation: None,
        }
    }

    /// Appends bytes read from the socket.
    pub(super) fn extend(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole message, `None` until more bytes arrive.
    pub(super) fn next_message(&mut self) -> Result<Option<Message>, ProtocolError> {
        loop {
            if let Some((_, length)) = header(&self.buffer) {
                if length > self.max_frame as u64 {
                    return Err(ProtocolError::Overflow);
                }
            }
            let frame = self.codec.decode(&mut self.buffer)?;
            if self.buffer.is_empty() && self.buffer.capacity() > 0 {
                self.buffer = BytesMut::new();
            }
            let Some(frame) = frame else {
                return Ok(None);
            };
            if let Some(message) = self.gather(frame)? {
                return Ok(Some(message));
            }
        }
    }

    /// A message once its last frame is in; continuation frames are gathered up to the limit.
    fn gather(&mut self, frame: Frame) -> Result<Option<Message>, ProtocolError> {
        let (text, first, part, last) = match frame {
            Frame::Text(bytes) => return Ok(Some(Message::Text(bytes))),
            Frame::Binary(_) => return Ok(Some(Message::Binary)),
            Frame::Ping(bytes) => return Ok(Some(Message::Ping(bytes))),
            Frame::Pong(bytes) => return Ok(Some(Message::Pong(bytes))),
            Frame::Close(_) => return Ok(Some(Message::Close)),
            Frame::Continuation(Item::FirstText(part)) => (true, true, part, false),
            Frame::Continuation(Item::FirstBinary(part)) => (false, true, part, false),
            Frame::Continuation(Item::Continue(part)) => (false, false, part, false),
            Frame::Continuation(Item::Last(part)) => (false, false, part, true),
        };
        if first {
            self.continuation = Some(Continuation {
                text,
                bytes: BytesMut::new(),
            });
        }
        // The codec refuses a continuation that was not started, so one is under way here.
        let Some(gathered) = self.continuation.as_mut() else {
            return Err(ProtocolError::ContinuationNotStarted);
        };
        if gathered.bytes.len() + part.len() > self.max_frame {
            return Err(ProtocolError::Overflow);
        }
        gathered.bytes.extend_from_slice(&part);
        if !last {
            return Ok(None);
        }
        let gathered = self
            .continuation
            .take()
            .expect("a continuation is under way");
        Ok(Some(if gathered.text {
            Message::Text(gathered.bytes.freeze())
        } else {
            Message::Binary
        }))
    }

    /// Bytes held for a partly received frame or message.
    #[cfg(any(test, fuzzing))]
    pub(super) fn held(&self) -> usize {
        self.buffer.capacity() + self.continuation.as_ref().map_or(0, |c| c.bytes.capacity())
    }
}

/// The header's length and the payload length it announces, once `bytes` start with a whole
/// header.
fn header(bytes: &[u8]) -> Option<(usize, u64)> {
    if bytes.len() < 2 {
        return None;
    }
    let masked = bytes[1] & 0x80 != 0;
    let (extra, short) = match bytes[1] & 0x7f {
        126 => (2, None),
        127 => (8, None),
        n => (0, Some(u64::from(n))),
    };
    let total = 2 + extra + if masked { 4 } else { 0 };
    if bytes.len() < total {
        return None;
    }
    let length = short.unwrap_or_else(|| {
        bytes[2..2 + extra]
            .iter()
            .fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte))
    });
    Some((total, length))
}

#[cfg(test)]
mod tests;
