//! `POST /v1/auth/logout`: ends the caller's login on the server, not just in the client.

use actix_web::{post, web, HttpResponse};

use super::login::reload_revocations;
use crate::db;
use crate::error::ApiResult;
use crate::extract::AuthUser;
use crate::state::AppState;

/// Ends the login of this access token: its refresh tokens stop working and the access token
/// itself is refused from now on (401 `TOKEN_REVOKED`). Other logins of the account stay. An
/// access token made from an API key is not affected (revoke the key instead).
#[utoipa::path(tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, description = "NEEDS_LOGIN, TOKEN_EXPIRED or TOKEN_REVOKED")))]
#[post("/auth/logout")]
pub async fn logout(user: AuthUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    if let Some(session) = user.session {
        let mut conn = state.pool.acquire().await?;
        let revoked = db::refresh_tokens::revoke_family(&mut conn, session).await?;
        drop(conn);
        if revoked > 0 {
            reload_revocations(&state).await;
        }
        tracing::info!(account.id = %canopy_shared::format_id(user.account_id), revoked, "logout");
    }
    Ok(HttpResponse::NoContent().finish())
}
