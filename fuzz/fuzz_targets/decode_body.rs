//! `decode_body` never panics on any string, and what it accepts re-encodes to the same bytes.
#![no_main]

use canopy_shared::protocol::{decode_body, encode_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(bytes) = decode_body(text) {
        let again = decode_body(&encode_body(&bytes)).expect("an encoded body decodes");
        assert_eq!(again, bytes);
    }
});
