//! `GET /function`: the names of the account's Serverledge functions (also at `/functions`, where
//! upstream's docs and older CLI look).

use actix_web::{get, web, HttpResponse};

use super::auth::Caller;
use super::FacadeError;
use crate::db;
use crate::state::AppState;

#[get("/function")]
pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, FacadeError> {
    names(caller, state).await
}

#[get("/functions")]
pub async fn list_plural(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, FacadeError> {
    names(caller, state).await
}

async fn names(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, FacadeError> {
    let mut conn = state.pool.acquire().await?;
    let names = db::serverledge::names(&mut conn, caller.account_id).await?;
    Ok(HttpResponse::Ok().json(names))
}
