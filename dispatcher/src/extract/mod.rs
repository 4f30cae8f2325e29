//! Request extractors that turn bad input into specific problem responses.

mod auth;
mod json;
mod spool;

pub(crate) use auth::verify_access_token;
pub use auth::{AuthUser, Role};
pub use json::{read_body, OptionalJson, ValidJson, JSON_BODY_LIMIT};
pub use spool::{spool_body, spool_body_within, SpooledBody};
