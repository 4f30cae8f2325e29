//! `AuthUser`: the account behind the request's access token. Accepts `Authorization: Bearer <t>`
//! and, as GreenCloud never said which, the bare token.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use uuid::Uuid;

use crate::auth::jwt::TokenError;
use crate::error::ApiError;
use crate::state::AppState;

/// Account roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub account_id: Uuid,
    pub role: Role,
    /// The login (refresh-token family) or API key the access token was minted for.
    pub session: Option<Uuid>,
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("AppState is not registered")))?;
    let value = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized(
            "NEEDS_LOGIN",
            "this endpoint needs an access token in the Authorization header",
        )
    })?;
    let value = value
        .to_str()
        .map_err(|_| {
            ApiError::unauthorized(
                "INVALID_TOKEN",
                "the Authorization header is not valid text",
            )
        })?
        .trim();
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        Some(_) => {
            return Err(ApiError::unauthorized(
                "INVALID_TOKEN",
                "the Authorization scheme must be Bearer",
            ))
        }
        None => value,
    };
    verify_access_token(state, token)
}

/// The account of an access token (signature, expiry, revocation).
pub(crate) fn verify_access_token(state: &AppState, token: &str) -> Result<AuthUser, ApiError> {
    let claims = state.tokens.verify(token).map_err(|error| match error {
        TokenError::Expired => ApiError::unauthorized(
            "TOKEN_EXPIRED",
            "the access token has expired; refresh it or log in again",
        ),
        TokenError::Invalid => ApiError::unauthorized(
            "INVALID_TOKEN",
            "the access token is malformed or its signature is invalid",
        ),
    })?;
    let account_id = canopy_shared::parse_id(&claims.sub).ok_or_else(|| {
        ApiError::unauthorized("INVALID_TOKEN", "the access token names no account")
    })?;
    let role = Role::parse(&claims.role).ok_or_else(|| {
        ApiError::unauthorized("INVALID_TOKEN", "the access token has an unknown role")
    })?;
    let session = claims.sid.as_deref().and_then(canopy_shared::parse_id);
    let revoked = session.is_some_and(|session| state.revocations.is_revoked(session));
    if revoked {
        return Err(ApiError::unauthorized(
            "TOKEN_REVOKED",
            "the login or API key of this access token was revoked; log in again",
        ));
    }
    Ok(AuthUser {
        account_id,
        role,
        session,
    })
}
