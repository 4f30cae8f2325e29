//! `POST /v1/function`.

use actix_web::{post, web, HttpResponse};

use super::owned_tags;
use crate::builds;
use crate::db;
use crate::db::functions::NewFunction;
use crate::domain::function::CreateFunction;
use crate::error::ApiResult;
use crate::extract::{AuthUser, ValidJson};
use crate::routes::created;
use crate::state::AppState;

/// Creates a function with default capabilities; responds 201 `{"id"}`. With a custom `image`
/// it gets an empty first build, so its tasks run before any code upload.
#[utoipa::path(tag = "function", security(("bearer" = [])), request_body = CreateFunction,
    responses((status = 201, description = "`{\"id\"}`"), (status = 400, body = crate::error::Problem)))]
#[post("/function")]
#[tracing::instrument(skip_all, fields(account.id = %user.account_id))]
pub async fn create_function(
    user: AuthUser,
    state: web::Data<AppState>,
    body: ValidJson<CreateFunction>,
) -> ApiResult<HttpResponse> {
    let request = body.0;
    let mut tx = state.pool.begin().await?;
    let tags = owned_tags(
        &mut tx,
        user.account_id,
        request.tag.as_deref().unwrap_or_default(),
    )
    .await?;
    let id = canopy_shared::new_id();
    let function = NewFunction {
        id,
        account_id: user.account_id,
        name: &request.name,
        description: request.description.as_deref().unwrap_or_default(),
        lang: request.lang.code(),
        kind: request.kind.code(),
    };
    db::functions::insert(&mut tx, &function).await?;
    db::functions::set_tags(&mut tx, id, &tags).await?;
    if let Some(image) = request.image.as_deref() {
        db::images::set_image(&mut tx, id, Some(image)).await?;
        // The image may hold all the code: tasks can run before (or without) an upload.
        let upload = builds::Upload {
            account_id: user.account_id,
            function_id: id,
            arch: "amd64",
            size: 0,
            received_at: chrono::Utc::now(),
            quota: state.quotas.quota(&state.pool, user.account_id).await?,
        };
        let package = builds::empty_package().map_err(sqlx::Error::Io)?;
        builds::store_success(&mut tx, upload, &package).await?;
    }
    tx.commit().await?;
    Ok(created(
        format!("/v1/function/{}", canopy_shared::format_id(id)),
        id,
    ))
}
