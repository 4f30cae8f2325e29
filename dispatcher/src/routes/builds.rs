//! `/v1/build`: upload a function's code (zip or tar.gz), see builds.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use canopy_shared::Lang;
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;

pub use canopy_shared::api::build::{BuildSummary, BuildView};
use canopy_shared::api::Page;

use super::{created, path_id, query_id};
use crate::builds;
use crate::db;
use crate::db::builds::BuildRow;
use crate::domain::archive;
use crate::error::{ApiError, ApiResult};
use crate::extract::{spool_body_within, AuthUser};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_builds)
        .service(create_build)
        .service(get_build);
}

/// Query of a build upload.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BuildQuery {
    /// `amd64` (default) or `arm64`; code packages of interpreted languages run on both.
    pub arch: Option<String>,
}

impl From<BuildRow> for BuildView {
    fn from(row: BuildRow) -> Self {
        BuildView {
            id: canopy_shared::format_id(row.id),
            function_id: canopy_shared::format_id(row.function_id),
            status: row.status,
            arch: vec![row.arch],
            timeline: row.timeline,
            log: row.log,
            entry_point: row.entry_point,
            artifact_sha256: row.artifact_sha256,
            artifact_size: row.artifact_size,
            created_at: row.created_at,
        }
    }
}

/// Uploads a function's code as a zip or tar.gz of its folder's contents (body up to 50 MiB).
/// Paths must be relative without `..`; links are refused; `handler.py` (PY) or `handler.js` (JS)
/// must be at the root. The new build is what new tasks of the function run: `SUCCESS` at once, except
/// GO, RS and CS, `PENDING` until a node of the account compiles it (`SUCCESS`, tasks then run the compiled
/// package; meanwhile they compile at cold start) or the compiler refuses it (`FAILED`, with its output
/// in the log; tasks get 409 `BUILD_FAILED`).
#[utoipa::path(tag = "build", security(("bearer" = [])), params(("functionId" = String, Path), BuildQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, description = "`{\"id\"}`"),
              (status = 400, description = "UNSUPPORTED_ARCHIVE, CORRUPT_ARCHIVE, UNSAFE_ARCHIVE, ENTRY_POINT_MISSING"),
              (status = 404, description = "FUNCTION_NOT_FOUND"), (status = 413, description = "PAYLOAD_TOO_LARGE"),
              (status = 408, description = "UPLOAD_TIMEOUT"), (status = 503, description = "BUILDS_BUSY or TRANSFER_MEMORY_BUSY, with Retry-After")))]
#[post("/build/{functionId}")]
#[tracing::instrument(skip_all, fields(account.id = %user.account_id))]
pub async fn create_build(
    req: HttpRequest,
    payload: web::Payload,
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<BuildQuery>,
) -> ApiResult<HttpResponse> {
    let function_id = path_id(&path, "FUNCTION_NOT_FOUND", "function")?;
    let arch = query
        .into_inner()
        .arch
        .unwrap_or_else(|| "amd64".to_owned());
    if !matches!(arch.as_str(), "amd64" | "arm64") {
        return Err(ApiError::invalid_field("arch", "must be amd64 or arm64"));
    }
    let mut conn = state.pool.acquire().await?;
    let function = db::functions::find_live(&mut conn, user.account_id, function_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "FUNCTION_NOT_FOUND",
                format!("no function with id {:?}", path.as_str()),
            )
        })?;
    let lang = Lang::from_code(&function.lang)
        .ok_or_else(|| anyhow::anyhow!("stored lang {} is unknown", function.lang))?;
    drop(conn);

    // Each upload holds a bounded working set (the body and files go to disk): a bounded
    // number run at once, within the transfer memory budget.
    let _turn = state.gates.build().await?;
    let received_at = Utc::now();
    let body = spool_body_within(
        &req,
        payload.into_inner(),
        state.dispatch.build_archive_limit,
        std::time::Duration::from_secs(state.dispatch.upload_timeout_s),
    )
    .await?;
    let size = usize::try_from(body.len).unwrap_or(usize::MAX);
    let package = tokio::task::spawn_blocking(move || archive::package_from(body.file, lang))
        .await
        .map_err(|error| anyhow::anyhow!("while packaging: {error}"))?
        .map_err(refusal)?;

    let upload = builds::Upload {
        account_id: user.account_id,
        function_id,
        arch: &arch,
        size,
        received_at,
        quota: state.quotas.quota(&state.pool, user.account_id).await?,
    };
    let mut tx = state.pool.begin().await?;
    let id = builds::store(&mut tx, upload, &package, lang).await?;
    tx.commit().await?;
    Ok(created(
        format!("/v1/build/{}", canopy_shared::format_id(id)),
        id,
    ))
}

/// A refused archive as a 400 with its code; the dispatcher's own disk failing is a 500.
fn refusal(error: archive::ArchiveError) -> ApiError {
    match error {
        archive::ArchiveError::Storage(_) => ApiError::internal(anyhow::anyhow!("{error}")),
        error => ApiError::bad_request(error.code(), error.to_string()),
    }
}

/// One build with its status, timeline and log.
#[utoipa::path(tag = "build", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = BuildView), (status = 404, description = "BUILD_NOT_FOUND")))]
#[get("/build/{id}")]
pub async fn get_build(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "BUILD_NOT_FOUND", "build")?;
    let mut conn = state.pool.acquire().await?;
    let row = db::builds::find(&mut conn, user.account_id, id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "BUILD_NOT_FOUND",
                format!("no build with id {:?}", path.as_str()),
            )
        })?;
    Ok(HttpResponse::Ok().json(BuildView::from(row)))
}

/// Query of the build list (the digest's shape).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BuildListQuery {
    /// Page number, from 1.
    pub page: Option<u32>,
    /// Page size, 1–100 (default 20).
    pub limit: Option<u32>,
    pub function_id: Option<String>,
}

/// The caller's builds, newest first: `{pageCount, pageSize, totalCount, results}`.
#[utoipa::path(tag = "build", security(("bearer" = [])), params(BuildListQuery), responses((status = 200)))]
#[get("/build/list")]
pub async fn list_builds(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<BuildListQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let page = query.page.unwrap_or(1);
    let limit = query.limit.unwrap_or(20);
    if page < 1 {
        return Err(ApiError::invalid_field("page", "must be at least 1"));
    }
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "must be between 1 and 100",
        ));
    }
    let function_id = query_id(query.function_id.as_deref(), "functionId")?;
    let mut conn = state.pool.acquire().await?;
    let offset = i64::from(page - 1) * i64::from(limit);
    let (rows, total) = db::builds::page(
        &mut conn,
        user.account_id,
        function_id,
        i64::from(limit),
        offset,
    )
    .await?;
    let results: Vec<BuildSummary> = rows
        .into_iter()
        .map(|row| BuildSummary {
            id: canopy_shared::format_id(row.id),
            function_id: canopy_shared::format_id(row.function_id),
            status: row.status,
            created_at: row.created_at,
        })
        .collect();
    let page_count = (total + i64::from(limit) - 1) / i64::from(limit);
    Ok(HttpResponse::Ok().json(Page {
        page_count,
        page_size: limit,
        total_count: total,
        results,
    }))
}
