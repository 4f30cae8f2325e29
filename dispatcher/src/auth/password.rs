//! Argon2id password hashing. Hashing is CPU-heavy, so callers run it on the blocking pool.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Hashes a password with Argon2id and a random salt (PHC string format).
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let hashed = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|error| anyhow::anyhow!("while hashing a password: {error}"))?;
    Ok(hashed.to_string())
}

/// Whether `password` matches the stored PHC `hash`. A malformed stored hash never matches.
pub fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Runs `hash` on the blocking pool.
pub async fn hash_blocking(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash(&password)).await?
}

/// Runs `verify` on the blocking pool.
pub async fn verify_blocking(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || verify(&password, &hash))
        .await
        .unwrap_or(false)
}

/// A hash to verify against when the account does not exist, so timing does not reveal which
/// emails are registered.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$4ZU0YdxjU6uWvMxvN2w5b8qZ2lJ7xJ1YfCSAz3jS9xM";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() -> anyhow::Result<()> {
        let stored = hash("Secr3t!pass")?;
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("Secr3t!pass", &stored));
        assert!(!verify("Secr3t!pasS", &stored));
        assert!(!verify("Secr3t!pass", "not a hash"));
        assert!(!verify("anything", DUMMY_HASH));
        Ok(())
    }
}
