//! What the worker decodes from each text frame of the dispatcher: any bytes either fail to
//! parse or parse into a `DispatcherMessage` that survives re-encoding unchanged; bodies never
//! panic.
#![no_main]

use canopy_shared::protocol::{decode_body, DispatcherMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = serde_json::from_slice::<DispatcherMessage>(data) else {
        return;
    };
    let json = serde_json::to_vec(&message).expect("a decoded message encodes");
    let again =
        serde_json::from_slice::<DispatcherMessage>(&json).expect("an encoded message decodes");
    assert_eq!(
        again,
        message,
        "round trip through {}",
        String::from_utf8_lossy(&json)
    );
    if let DispatcherMessage::Assign(assignment) = &message {
        let _ = decode_body(&assignment.request.body);
    }
});
