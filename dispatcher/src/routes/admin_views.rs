//! `/v1/admin` read-only views for the dashboard: every account, and system health (database,
//! replicas, the lease sweeper). Admins only; anyone else gets 403 `ADMIN_REQUIRED`.

use std::time::Instant;

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::admin::require_admin;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AuthUser, ValidJson};
use crate::routes::{path_id, query_id};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_accounts)
        .service(set_account_disabled)
        .service(system_health);
}

/// A replica is counted live while its beat (once a second) is younger than this.
const REPLICA_LIVE_S: f64 = 10.0;
/// The sweeper runs every second; a lease overdue by this much means it is not keeping up.
const LEASE_OVERDUE_S: f64 = 10.0;

/// Query of the account list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AccountListQuery {
    /// Page size, 1–500 (default 100).
    pub limit: Option<u32>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
}

/// An account as admins see it; never a secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub surname: String,
    /// `user` or `admin`.
    pub role: String,
    pub activated: bool,
    pub twofa: bool,
    pub privileged_approved: bool,
    /// Disabled by an admin: no sign-in, refresh or API key until enabled again.
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    /// Live (not deleted) functions and nodes.
    pub functions: i64,
    pub nodes: i64,
}

/// A page of accounts; `next` is the cursor of the following page, null on the last.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountPage {
    pub results: Vec<AccountView>,
    pub next: Option<String>,
}

/// Every account, oldest first: `{results, next}`.
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(AccountListQuery),
    responses((status = 200, body = AccountPage),
              (status = 400, body = crate::error::Problem), (status = 403, description = "ADMIN_REQUIRED")))]
#[get("/admin/account/list")]
pub async fn list_accounts(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<AccountListQuery>,
) -> ApiResult<HttpResponse> {
    require_admin(&user)?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "must be between 1 and 500",
        ));
    }
    let cursor = query_id(query.cursor.as_deref(), "cursor")?;
    let mut conn = state.pool.acquire().await?;
    let mut rows = db::admin_views::accounts(&mut conn, cursor, i64::from(limit) + 1).await?;
    let next = (rows.len() > limit as usize).then(|| {
        rows.truncate(limit as usize);
        rows.last().map(|row| canopy_shared::format_id(row.id))
    });
    let results: Vec<AccountView> = rows
        .into_iter()
        .map(|row| AccountView {
            id: canopy_shared::format_id(row.id),
            email: row.email,
            name: row.name,
            surname: row.surname,
            role: row.role,
            activated: row.activated,
            twofa: row.twofa,
            privileged_approved: row.privileged_approved,
            disabled: row.disabled,
            created_at: row.created_at,
            functions: row.functions,
            nodes: row.nodes,
        })
        .collect();
    Ok(HttpResponse::Ok().json(AccountPage {
        results,
        next: next.flatten(),
    }))
}

/// Body of `POST /v1/admin/account/{id}/disabled`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountDisabled {
    pub disabled: bool,
}

/// Disables an account (its logins end at once, its API keys and sign-ins are refused) or
/// enables it again. Its nodes and tasks are not touched: revoke the nodes to stop them.
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(("id" = String, Path)), request_body = AccountDisabled,
    responses((status = 204), (status = 400, body = crate::error::Problem), (status = 403, description = "ADMIN_REQUIRED"),
              (status = 404, description = "ACCOUNT_NOT_FOUND"), (status = 409, description = "CANNOT_DISABLE_SELF")))]
#[post("/admin/account/{id}/disabled")]
pub async fn set_account_disabled(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ValidJson<AccountDisabled>,
) -> ApiResult<HttpResponse> {
    require_admin(&user)?;
    let id = path_id(&path, "ACCOUNT_NOT_FOUND", "account")?;
    let disabled = body.0.disabled;
    if disabled && id == user.account_id {
        return Err(ApiError::conflict(
            "CANNOT_DISABLE_SELF",
            "an admin cannot disable their own account",
        ));
    }
    let mut tx = state.pool.begin().await?;
    if !db::admin_views::set_disabled(&mut tx, id, disabled).await? {
        return Err(ApiError::not_found(
            "ACCOUNT_NOT_FOUND",
            format!("no account {:?}", path.as_str()),
        ));
    }
    tx.commit().await?;
    super::auth::reload_revocations(&state).await;
    tracing::info!(account.id = %canopy_shared::format_id(id), disabled, "account disabled flag set");
    Ok(HttpResponse::NoContent().finish())
}

/// System health as admins see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemHealth {
    /// True when the database answers, every replica beats and no lease is overdue.
    pub healthy: bool,
    pub database: DatabaseHealth,
    pub replicas: Vec<ReplicaView>,
    pub queue: QueueView,
    /// Workers connected to this replica's sockets.
    pub local_connections: usize,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseHealth {
    /// Round trip of the health queries, ms.
    pub latency_ms: f64,
    pub pool_size: u32,
    pub pool_idle: usize,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaView {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub beat_at: DateTime<Utc>,
    pub beat_age_s: f64,
    pub live: bool,
}

/// The queue and the lease sweeper: `overdueLeases` > 0 means attempts outlived their lease
/// by more than 10 s without being re-queued.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueView {
    pub queued: i64,
    pub oldest_queued_age_s: Option<f64>,
    pub held: i64,
    pub overdue_leases: i64,
}

/// Database, replicas and sweeper health.
#[utoipa::path(tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = SystemHealth), (status = 403, description = "ADMIN_REQUIRED")))]
#[get("/admin/health")]
pub async fn system_health(user: AuthUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    require_admin(&user)?;
    let started = Instant::now();
    let mut conn = state.pool.acquire().await?;
    let replicas = db::admin_views::replicas(&mut conn).await?;
    let queue = db::admin_views::queue_health(&mut conn, LEASE_OVERDUE_S).await?;
    drop(conn);
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let replicas: Vec<ReplicaView> = replicas
        .into_iter()
        .map(|row| ReplicaView {
            id: canopy_shared::format_id(row.id),
            started_at: row.started_at,
            beat_at: row.beat_at,
            live: row.beat_age_s < REPLICA_LIVE_S,
            beat_age_s: row.beat_age_s,
        })
        .collect();
    // Rows of dead replicas linger for a day; only a recently dead one is a warning.
    let replicas_ok = replicas
        .iter()
        .all(|replica| replica.live || replica.beat_age_s > 3600.0);
    Ok(HttpResponse::Ok().json(SystemHealth {
        healthy: replicas_ok && queue.overdue_leases == 0,
        database: DatabaseHealth {
            latency_ms,
            pool_size: state.pool.size(),
            pool_idle: state.pool.num_idle(),
        },
        replicas,
        queue: QueueView {
            queued: queue.queued,
            oldest_queued_age_s: queue.oldest_queued_age_s,
            held: queue.held,
            overdue_leases: queue.overdue_leases,
        },
        local_connections: state.registry.len(),
    }))
}
