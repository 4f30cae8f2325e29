//! The gateway's WebSocket frame decoder, fed any bytes from a worker in chunks of any size, never
//! panics, never yields a message over the frame limit, and never holds much more than one
//! frame's limit plus one chunk.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../dispatcher/src/gateway/frames.rs"]
#[allow(dead_code)]
mod frames;

use frames::{FrameDecoder, Message};

const MAX_FRAME: usize = 4096;

fuzz_target!(|input: &[u8]| {
    let Some((&chunk, bytes)) = input.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let mut decoder = FrameDecoder::new(MAX_FRAME, &[]);
    for part in bytes.chunks(chunk) {
        decoder.extend(part);
        loop {
            match decoder.next_message() {
                Ok(Some(Message::Text(text))) => assert!(text.len() <= MAX_FRAME),
                Ok(Some(_)) => {}
                Ok(None) => break,
                // The session closes the connection on any error.
                Err(_) => return,
            }
        }
        assert!(
            decoder.held() <= 2 * (2 * MAX_FRAME + 14 + chunk),
            "holds {} bytes",
            decoder.held()
        );
    }
});
