//! Random secrets (refresh tokens, API keys, activation codes) and their stored digests.
//! Secrets are high-entropy, so a plain SHA-256 digest is enough to store them safely.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// `bytes` random bytes as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    hex::encode(buffer)
}

/// Random raw bytes (e.g. a signing key).
pub fn random_bytes(bytes: usize) -> Vec<u8> {
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    buffer
}

/// The digest under which a secret is stored and looked up.
pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// API keys carry a recognisable prefix so secret scanners and humans can spot them.
pub const API_KEY_PREFIX: &str = "canopy_";

/// A new API key: the prefix and 40 hex characters (160 bits).
pub fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", random_hex(20))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_digests_are_stable() {
        let first = random_hex(256);
        assert_eq!(first.len(), 512);
        assert_ne!(first, random_hex(256));
        assert_eq!(digest("abc"), digest("abc"));
        assert_ne!(digest("abc"), digest("abd"));
        let key = new_api_key();
        assert!(key.starts_with(API_KEY_PREFIX) && key.len() == API_KEY_PREFIX.len() + 40);
    }
}
