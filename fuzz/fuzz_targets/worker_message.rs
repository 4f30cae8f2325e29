//! What the dispatcher decodes from each text frame of a worker: any bytes either fail to parse
//! or parse into a `WorkerMessage` that survives re-encoding unchanged; bodies never panic.
#![no_main]

use canopy_shared::protocol::{decode_body, Outcome, WorkerMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = serde_json::from_slice::<WorkerMessage>(data) else {
        return;
    };
    let json = serde_json::to_vec(&message).expect("a decoded message encodes");
    let again = serde_json::from_slice::<WorkerMessage>(&json).expect("an encoded message decodes");
    assert_eq!(
        again,
        message,
        "round trip through {}",
        String::from_utf8_lossy(&json)
    );
    if let WorkerMessage::Result(result) = &message {
        if let Outcome::Response { body, .. } = &result.outcome {
            let _ = decode_body(body);
        }
    }
});
