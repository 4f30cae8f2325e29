//! `GET /function`: the names of the account's Serverledge functions.

use actix_web::{get, web, HttpResponse};

use super::auth::Caller;
use super::FacadeError;
use crate::db;
use crate::state::AppState;

#[get("/function")]
pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, FacadeError> {
    let mut conn = state.pool.acquire().await?;
    let names = db::serverledge::names(&mut conn, caller.account_id).await?;
    Ok(HttpResponse::Ok().json(names))
}
