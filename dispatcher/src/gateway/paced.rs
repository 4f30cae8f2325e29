//! The worker socket's byte stream as the WebSocket reader sees it: frame headers checked
//! against the frame limit as they arrive, and one chunk per poll.
//!
//! actix-http checks a frame's length only once the whole frame is buffered, and actix-ws reads
//! everything the peer has sent before it decodes, so a header announcing 2^62 bytes followed by
//! a fast stream of payload was buffered (gigabytes) before any limit applied. Here the length
//! is read from each header on the way in and an oversized frame ends the stream at once; and
//! yielding after each chunk makes the reader decode what it has before it reads more, so one
//! connection holds at most a frame's limit plus a chunk.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_util::Stream;

/// Where the reader is in the frame sequence.
#[derive(Debug)]
enum Position {
    /// Reading a header: the bytes so far (at most 14).
    Header { bytes: [u8; 14], have: usize },
    /// Inside a payload: bytes left.
    Payload { left: u64 },
}

/// Wraps a payload stream; see the module docs.
pub(super) struct Paced<S> {
    inner: S,
    just_yielded: bool,
    max_frame: u64,
    position: Position,
    /// Set when a header announced more than the limit (the session says `MESSAGE_TOO_LARGE`).
    pub(super) oversized: Arc<AtomicBool>,
}

impl<S> Paced<S> {
    pub(super) fn new(inner: S, max_frame: usize) -> Self {
        Paced {
            inner,
            just_yielded: false,
            max_frame: max_frame as u64,
            position: Position::Header {
                bytes: [0; 14],
                have: 0,
            },
            oversized: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Follows frame boundaries through `chunk`; false when a header announces too much.
    fn track(&mut self, mut chunk: &[u8]) -> bool {
        while !chunk.is_empty() {
            match &mut self.position {
                Position::Payload { left } => {
                    let step = (*left).min(chunk.len() as u64);
                    *left -= step;
                    chunk = &chunk[step as usize..];
                    if *left == 0 {
                        self.position = Position::Header {
                            bytes: [0; 14],
                            have: 0,
                        };
                    }
                }
                Position::Header { bytes, have } => {
                    bytes[*have] = chunk[0];
                    *have += 1;
                    chunk = &chunk[1..];
                    let Some((header_len, length)) = header(&bytes[..*have]) else {
                        continue;
                    };
                    debug_assert_eq!(header_len, *have);
                    if length > self.max_frame {
                        return false;
                    }
                    self.position = if length == 0 {
                        Position::Header {
                            bytes: [0; 14],
                            have: 0,
                        }
                    } else {
                        Position::Payload { left: length }
                    };
                }
            }
        }
        true
    }
}

/// The header's length and the payload length it announces, once `bytes` hold a whole header.
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

impl<S> Stream for Paced<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.oversized.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        if self.just_yielded {
            self.just_yielded = false;
            // Let the reader decode what it has; it is polled again at once.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            if !self.track(&chunk.clone()) {
                self.oversized.store(true, Ordering::Relaxed);
                return Poll::Ready(Some(Err(PayloadError::Overflow)));
            }
            self.just_yielded = true;
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn frame(length: u64) -> Vec<u8> {
        let mut frame = vec![0x81];
        match length {
            0..=125 => frame.push(0x80 | length as u8),
            126..=65535 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(length as u16).to_be_bytes());
            }
            _ => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&length.to_be_bytes());
            }
        }
        frame.extend_from_slice(&[9, 9, 9, 9]);
        frame.extend(std::iter::repeat_n(b'a', length.min(1 << 20) as usize));
        frame
    }

    fn chunks(bytes: Vec<u8>, size: usize) -> Vec<Result<Bytes, PayloadError>> {
        bytes
            .chunks(size)
            .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
            .collect()
    }

    #[tokio::test]
    async fn frames_within_the_limit_pass_whole_however_they_are_split() {
        let mut bytes = frame(10);
        bytes.extend(frame(300));
        bytes.extend(frame(0));
        bytes.extend(frame(70_000));
        let expected = bytes.len();
        for size in [1, 3, 7, 1000, 100_000] {
            let paced = Paced::new(
                futures_util::stream::iter(chunks(bytes.clone(), size)),
                70_000,
            );
            let passed: Vec<_> = paced.collect().await;
            let total: usize = passed
                .iter()
                .map(|chunk| chunk.as_ref().map_or(0, Bytes::len))
                .sum();
            assert_eq!(total, expected, "chunks of {size}");
        }
    }

    #[tokio::test]
    async fn a_header_announcing_too_much_ends_the_stream_before_its_payload() {
        let mut bytes = frame(10);
        let mut huge = frame(1 << 62);
        huge.truncate(14);
        bytes.extend(huge);
        bytes.extend(vec![b'x'; 4096]);
        let mut paced = Paced::new(futures_util::stream::iter(chunks(bytes, 8)), 64 * 1024);
        let oversized = Arc::clone(&paced.oversized);
        let mut passed = 0;
        while let Some(chunk) = paced.next().await {
            match chunk {
                Ok(chunk) => passed += chunk.len(),
                Err(error) => {
                    assert!(matches!(error, PayloadError::Overflow));
                    break;
                }
            }
        }
        assert!(oversized.load(Ordering::Relaxed));
        assert!(
            passed <= 16 + 14,
            "only the first frame and the header got through: {passed}"
        );
        assert!(paced.next().await.is_none());
    }
}
