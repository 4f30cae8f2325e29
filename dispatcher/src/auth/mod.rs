//! Credentials: password hashing, access tokens, TOTP, random secrets and the mailer.
//! Pure logic with no HTTP or SQL, so each piece is unit-tested on its own.

pub mod jwt;
pub mod mailer;
pub mod password;
pub mod secret;
pub mod totp;
