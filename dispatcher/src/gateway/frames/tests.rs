use actix_http::ws::{OpCode, Parser};

use super::*;

/// A frame as a client sends it (masked).
fn frame(op: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut bytes = BytesMut::new();
    Parser::write_message(&mut bytes, payload, op, fin, true);
    bytes.to_vec()
}

fn text(payload: &[u8]) -> Vec<u8> {
    frame(OpCode::Text, true, payload)
}

/// Feeds `bytes` in chunks of `size`, collecting every message decoded on the way.
fn feed(decoder: &mut FrameDecoder, bytes: &[u8], size: usize) -> Vec<Message> {
    let mut messages = Vec::new();
    for chunk in bytes.chunks(size) {
        decoder.extend(chunk);
        while let Some(message) = decoder.next_message().expect("valid frames") {
            messages.push(message);
        }
    }
    messages
}

fn texts(messages: &[Message]) -> Vec<usize> {
    messages
        .iter()
        .map(|message| match message {
            Message::Text(bytes) => bytes.len(),
            other => panic!("expected text, got {other:?}"),
        })
        .collect()
}

#[test]
fn frames_within_the_limit_come_out_whole_however_they_are_split() {
    let lengths = [10, 300, 0, 70_000];
    let bytes: Vec<u8> = lengths.iter().flat_map(|n| text(&vec![b'a'; *n])).collect();
    for size in [1, 3, 7, 1000, 100_000] {
        let mut decoder = FrameDecoder::new(70_000, &[]);
        let messages = feed(&mut decoder, &bytes, size);
        assert_eq!(texts(&messages), lengths, "chunks of {size}");
        assert_eq!(decoder.held(), 0, "nothing is kept once the frames are out");
    }
}

#[test]
fn the_bytes_behind_the_upgrade_request_are_decoded_first() {
    let mut decoder = FrameDecoder::new(1024, &text(b"hello"));
    let Some(Message::Text(bytes)) = decoder.next_message().expect("valid") else {
        panic!("expected the leftover frame");
    };
    assert_eq!(&bytes[..], b"hello");
}

#[test]
fn a_header_announcing_too_much_is_refused_before_its_payload() {
    let mut bytes = text(b"0123456789");
    let mut huge = vec![0x81, 0x80 | 127];
    huge.extend_from_slice(&(1u64 << 62).to_be_bytes());
    huge.extend_from_slice(&[9, 9, 9, 9]);
    bytes.extend(&huge);
    bytes.extend(vec![b'x'; 4096]);
    let mut decoder = FrameDecoder::new(64 * 1024, &[]);
    let mut fed = 0;
    let mut first = None;
    let error = loop {
        decoder.extend(&bytes[fed..fed + 8]);
        fed += 8;
        match decoder.next_message() {
            Ok(Some(message)) => first = Some(message),
            Ok(None) => {}
            Err(error) => break error,
        }
    };
    assert!(matches!(error, ProtocolError::Overflow), "{error:?}");
    assert!(matches!(first, Some(Message::Text(_))));
    assert!(fed <= 16 + 14 + 8, "refused once the header was in: {fed}");
}

#[test]
fn a_frame_just_over_the_limit_is_refused() {
    let mut decoder = FrameDecoder::new(100, &text(&[b'a'; 101]));
    assert!(matches!(
        decoder.next_message(),
        Err(ProtocolError::Overflow)
    ));
}

#[test]
fn continuation_frames_are_gathered_around_control_frames() {
    let mut bytes = frame(OpCode::Text, false, b"ab");
    bytes.extend(frame(OpCode::Ping, true, b"p"));
    bytes.extend(frame(OpCode::Continue, false, b"cd"));
    bytes.extend(frame(OpCode::Continue, true, b"ef"));
    bytes.extend(frame(OpCode::Binary, true, b"bin"));
    bytes.extend(frame(OpCode::Close, true, &[]));
    let mut decoder = FrameDecoder::new(1024, &[]);
    let messages = feed(&mut decoder, &bytes, 5);
    assert!(matches!(&messages[0], Message::Ping(bytes) if &bytes[..] == b"p"));
    assert!(matches!(&messages[1], Message::Text(bytes) if &bytes[..] == b"abcdef"));
    assert!(matches!(messages[2], Message::Binary));
    assert!(matches!(messages[3], Message::Close));
    assert_eq!(messages.len(), 4);
}

#[test]
fn a_message_gathered_past_the_limit_is_refused() {
    let mut bytes = frame(OpCode::Text, false, &[b'a'; 60]);
    bytes.extend(frame(OpCode::Continue, true, &[b'a'; 60]));
    let mut decoder = FrameDecoder::new(100, &bytes);
    assert!(matches!(
        decoder.next_message(),
        Err(ProtocolError::Overflow)
    ));
}

#[test]
fn unmasked_and_stray_continuation_frames_are_refused() {
    let mut unmasked = BytesMut::new();
    Parser::write_message(&mut unmasked, b"x", OpCode::Text, true, false);
    let mut decoder = FrameDecoder::new(1024, &unmasked);
    assert!(matches!(
        decoder.next_message(),
        Err(ProtocolError::UnmaskedFrame)
    ));
    let mut decoder = FrameDecoder::new(1024, &frame(OpCode::Continue, true, b"x"));
    assert!(matches!(
        decoder.next_message(),
        Err(ProtocolError::ContinuationNotStarted)
    ));
}
