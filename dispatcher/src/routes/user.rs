//! `/v1/user`: the caller's account, password and API keys. Secrets are shown once, when created.

use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use canopy_shared::api::user::{ApiKeyView, NewApiKey, UserView};
use uuid::Uuid;

use super::auth::{account_gone, reload_revocations, reverify, Attempt};
use super::path_id;
use crate::auth::{password, secret};
use crate::db;
use crate::domain::account::{ChangePassword, CreateApiKey};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, OptionalJson, ValidJson};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(get_user)
        .service(change_password)
        .service(list_api_keys)
        .service(create_api_key)
        .service(rotate_api_key)
        .service(revoke_api_key);
}

fn key_view(row: db::api_keys::ApiKeyRow) -> ApiKeyView {
    ApiKeyView {
        id: canopy_shared::format_id(row.id),
        name: row.name,
        prefix: row.prefix,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
    }
}

/// The caller's account, with its API keys listed without their secrets.
#[utoipa::path(tag = "user", security(("bearer" = [])), responses((status = 200, body = UserView)))]
#[get("/user")]
pub async fn get_user(user: AuthUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.acquire().await?;
    let account = db::accounts::find_by_id(&mut conn, user.account_id)
        .await?
        .ok_or_else(account_gone)?;
    let keys = db::api_keys::list_live(&mut conn, user.account_id).await?;
    Ok(HttpResponse::Ok().json(UserView {
        id: canopy_shared::format_id(account.id),
        email: account.email,
        name: account.name,
        surname: account.surname,
        role: account.role,
        twofa: account.twofa_secret.is_some(),
        created_at: account.created_at,
        api_keys: keys.into_iter().map(key_view).collect(),
    }))
}

/// Changes the password; needs the current one (and a 2FA code when 2FA is on). Every refresh
/// token of the account is revoked, so other sessions must log in again.
#[utoipa::path(tag = "user", security(("bearer" = [])), request_body = ChangePassword,
    responses((status = 204, description = "changed"),
              (status = 403, description = "INVALID_CURRENT_PASSWORD, TWOFA_REQUIRED or INVALID_TWOFA")))]
#[put("/user/password")]
pub async fn change_password(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    body: ValidJson<ChangePassword>,
) -> ApiResult<HttpResponse> {
    let request = body.0;
    let attempt = Attempt::reverify(&req, user.account_id);
    let mut conn = state.pool.acquire().await?;
    attempt.guard(&mut conn, &state.auth).await?;
    let account = db::accounts::find_by_id(&mut conn, user.account_id)
        .await?
        .ok_or_else(account_gone)?;
    reverify::password_and_twofa(
        &mut conn,
        &attempt,
        &state.auth,
        &account,
        request.current_password,
        request.twofa.as_deref(),
    )
    .await?;
    attempt.succeeded(&mut conn).await?;
    let new_hash = password::hash_blocking(request.password).await?;
    let mut tx = state.pool.begin().await?;
    db::accounts::set_password(&mut tx, account.id, &new_hash).await?;
    db::refresh_tokens::revoke_all_for_account(&mut tx, account.id).await?;
    tx.commit().await?;
    reload_revocations(&state).await;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's live API keys (without secrets).
#[utoipa::path(tag = "user", security(("bearer" = [])), responses((status = 200, body = [ApiKeyView])))]
#[get("/user/apiKey")]
pub async fn list_api_keys(user: AuthUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.acquire().await?;
    let keys = db::api_keys::list_live(&mut conn, user.account_id).await?;
    Ok(HttpResponse::Ok().json(keys.into_iter().map(key_view).collect::<Vec<_>>()))
}

async fn insert_key(
    conn: &mut sqlx::PgConnection,
    account_id: Uuid,
    name: &str,
) -> ApiResult<NewApiKey> {
    let key = secret::new_api_key();
    let prefix = key[..secret::API_KEY_PREFIX.len() + 6].to_owned();
    let id = canopy_shared::new_id();
    db::api_keys::insert(conn, id, account_id, name, &prefix, &secret::digest(&key)).await?;
    Ok(NewApiKey {
        id: canopy_shared::format_id(id),
        name: name.to_owned(),
        key,
        prefix,
    })
}

/// Creates an API key. The response is the only time the key is shown.
#[utoipa::path(tag = "user", security(("bearer" = [])), request_body(content = CreateApiKey, description = "optional"),
    responses((status = 201, body = NewApiKey)))]
#[post("/user/apiKey")]
pub async fn create_api_key(
    user: AuthUser,
    state: web::Data<AppState>,
    body: OptionalJson<CreateApiKey>,
) -> ApiResult<HttpResponse> {
    let name = body.0.name.unwrap_or_else(|| "default".to_owned());
    let mut conn = state.pool.acquire().await?;
    let created = insert_key(&mut conn, user.account_id, &name).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Replaces a key with a new one (same name) and revokes the old one, atomically.
#[utoipa::path(tag = "user", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 201, body = NewApiKey), (status = 404, description = "API_KEY_NOT_FOUND")))]
#[post("/user/apiKey/{id}/rotate")]
pub async fn rotate_api_key(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "API_KEY_NOT_FOUND", "API key")?;
    let mut tx = state.pool.begin().await?;
    let keys = db::api_keys::list_live(&mut tx, user.account_id).await?;
    let old = keys
        .into_iter()
        .find(|key| key.id == id)
        .ok_or_else(|| key_not_found(&path))?;
    if !db::api_keys::revoke(&mut tx, user.account_id, id).await? {
        return Err(key_not_found(&path));
    }
    let created = insert_key(&mut tx, user.account_id, &old.name).await?;
    tx.commit().await?;
    reload_revocations(&state).await;
    Ok(HttpResponse::Created().json(created))
}

/// Revokes a key at once.
#[utoipa::path(tag = "user", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 204, description = "revoked"), (status = 404, description = "API_KEY_NOT_FOUND")))]
#[delete("/user/apiKey/{id}")]
pub async fn revoke_api_key(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "API_KEY_NOT_FOUND", "API key")?;
    let mut conn = state.pool.acquire().await?;
    if !db::api_keys::revoke(&mut conn, user.account_id, id).await? {
        return Err(key_not_found(&path));
    }
    drop(conn);
    reload_revocations(&state).await;
    Ok(HttpResponse::NoContent().finish())
}

fn key_not_found(raw: &str) -> ApiError {
    ApiError::not_found("API_KEY_NOT_FOUND", format!("no API key with id {raw:?}"))
}
