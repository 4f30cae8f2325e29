//! Sign-up and activation.

use actix_web::{post, web, HttpResponse};
use chrono::{Duration, Utc};

use crate::auth::{password, secret};
use crate::db;
use crate::db::accounts::NewAccount;
use crate::domain::account::{Activate, Register};
use crate::error::{ApiError, ApiResult};
use crate::extract::ValidJson;
use crate::state::AppState;

/// Creates an account. The activation code is mailed (or logged without SMTP), unless the
/// dispatcher runs with `CANOPY_AUTH_AUTO_ACTIVATE=true`.
#[utoipa::path(tag = "auth", request_body = Register,
    responses((status = 201, description = "account created; `activated` says whether a code is needed"),
              (status = 400, body = crate::error::Problem), (status = 409, description = "EMAIL_TAKEN")))]
#[post("/auth/register")]
#[tracing::instrument(skip_all)]
pub async fn register(
    state: web::Data<AppState>,
    body: ValidJson<Register>,
) -> ApiResult<HttpResponse> {
    let request = body.0;
    let password_hash = password::hash_blocking(request.password).await?;
    let id = canopy_shared::new_id();
    let activated = state.auth.auto_activate;
    let mut tx = state.pool.begin().await?;
    let account = NewAccount {
        id,
        email: request.email.trim(),
        name: request.name.trim(),
        surname: request.surname.trim(),
        password_hash: &password_hash,
        role: "user",
        activated,
    };
    db::accounts::insert_account(&mut tx, &account).await?;
    let code = (!activated).then(|| secret::random_hex(16));
    if let Some(code) = &code {
        let expires_at = Utc::now() + Duration::hours(24);
        db::accounts::insert_activation_code(&mut tx, &secret::digest(code), id, expires_at)
            .await?;
    }
    tx.commit().await?;
    if let Some(code) = code {
        // The account exists either way; a failed mail is logged and the user can ask an admin.
        if let Err(error) = state
            .mailer
            .send_activation_code(account.email, &code)
            .await
        {
            tracing::error!(error = ?error, "could not send the activation email");
        }
    }
    Ok(HttpResponse::Created().json(serde_json::json!({
        "id": canopy_shared::format_id(id),
        "activated": activated,
    })))
}

/// Activates an account with the mailed code.
#[utoipa::path(tag = "auth", request_body = Activate,
    responses((status = 200, description = "activated"), (status = 400, description = "INVALID_ACTIVATION_CODE")))]
#[post("/auth/activate")]
#[tracing::instrument(skip_all)]
pub async fn activate(
    state: web::Data<AppState>,
    body: ValidJson<Activate>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.acquire().await?;
    let activated =
        db::accounts::activate_with_code(&mut conn, &secret::digest(body.0.code.trim())).await?;
    match activated {
        Some(id) => Ok(HttpResponse::Ok()
            .json(serde_json::json!({ "id": canopy_shared::format_id(id), "activated": true }))),
        None => Err(ApiError::invalid_field(
            "code",
            "is unknown, already used or expired",
        )),
    }
}
