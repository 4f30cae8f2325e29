//! Credentials: password hashing, access tokens, TOTP, random secrets and the mailer — pure logic
//! with no HTTP or SQL, each unit-tested on its own — and the revoked sessions every access token
//! is checked against (read through `db`).

pub mod api_keys;
pub mod jwt;
pub mod mailer;
pub mod password;
pub mod revocations;
pub mod secret;
pub mod totp;
