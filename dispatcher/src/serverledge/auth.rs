//! Who is calling the facade. Serverledge has no authentication, so its clients can carry a key
//! only where they already put something: `Authorization: Bearer <API key or access token>`, or
//! HTTP Basic with the API key as user name or password (`http://KEY@host:1323`).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest};
use base64::Engine;
use uuid::Uuid;

use super::FacadeError;
use crate::auth::secret::API_KEY_PREFIX;
use crate::extract::verify_access_token;
use crate::state::AppState;

/// The account behind a facade request.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub account_id: Uuid,
}

fn unauthorized(message: &str) -> FacadeError {
    FacadeError::new(StatusCode::UNAUTHORIZED, "NEEDS_LOGIN", message).with_header(
        header::WWW_AUTHENTICATE,
        r#"Basic realm="canopy", Bearer realm="canopy""#,
    )
}

/// What the Authorization header carries.
enum Credential {
    ApiKey(String),
    AccessToken(String),
}

fn credential(req: &HttpRequest) -> Result<Credential, FacadeError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            unauthorized(
                "Unauthorized: send an API key as a Bearer token or as the Basic user name",
            )
        })?
        .to_str()
        .map_err(|_| unauthorized("Unauthorized: the Authorization header is not valid text"))?
        .trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or(("", value));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| unauthorized("Unauthorized: the Basic credentials are not base64"))?;
        let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
        let key = [user, password]
            .into_iter()
            .find(|part| part.starts_with(API_KEY_PREFIX))
            .ok_or_else(|| {
                unauthorized("Unauthorized: put the API key in the Basic user name or password")
            })?;
        return Ok(Credential::ApiKey(key.to_owned()));
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauthorized(
            "Unauthorized: the Authorization scheme must be Bearer or Basic",
        ));
    }
    Ok(if rest.starts_with(API_KEY_PREFIX) {
        Credential::ApiKey(rest.to_owned())
    } else {
        Credential::AccessToken(rest.to_owned())
    })
}

async fn authenticate(req: HttpRequest) -> Result<Caller, FacadeError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| FacadeError::unavailable("AppState is not registered"))?;
    match credential(&req)? {
        Credential::AccessToken(token) => {
            let user = verify_access_token(state, &token)
                .map_err(|error| unauthorized(&format!("Unauthorized: {}", error.detail())))?;
            Ok(Caller {
                account_id: user.account_id,
            })
        }
        Credential::ApiKey(key) => {
            let owner = state
                .api_keys
                .owner(&state.pool, &state.revocations, &key)
                .await?
                .ok_or_else(|| unauthorized("Unauthorized: the API key is unknown or revoked"))?;
            Ok(Caller {
                account_id: owner.account_id,
            })
        }
    }
}

impl FromRequest for Caller {
    type Error = FacadeError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, FacadeError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}
