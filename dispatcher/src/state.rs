//! What every handler shares, built once at start and passed in as `web::Data`.

use sqlx::PgPool;

use crate::auth::jwt::TokenKeys;
use crate::auth::mailer::Mailer;
use crate::settings::{AuthSettings, DispatchSettings};

/// Shared application state.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub tokens: TokenKeys,
    pub mailer: Mailer,
    pub auth: AuthSettings,
    pub dispatch: DispatchSettings,
}
