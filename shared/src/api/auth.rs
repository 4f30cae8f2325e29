//! Logging in: with email and password (and a TOTP code), a refresh token, or an API key.

use serde::{Deserialize, Serialize};

#[cfg(feature = "validate")]
use validator::Validate;

/// Body of `POST /v1/auth/login`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "validate", derive(Validate))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Login {
    #[cfg_attr(
        feature = "validate",
        validate(length(min = 1, max = 254, message = "must be an email address"))
    )]
    pub email: String,
    #[cfg_attr(
        feature = "validate",
        validate(length(min = 1, max = 128, message = "must be 1 to 128 characters long"))
    )]
    pub password: String,
    /// The current TOTP code, required when 2FA is on.
    #[cfg_attr(
        feature = "validate",
        validate(length(max = 16, message = "must be a 6-digit code"))
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub twofa: Option<String>,
}

/// Body of `POST /v1/auth/refresh`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "validate", derive(Validate))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Refresh {
    #[cfg_attr(
        feature = "validate",
        validate(length(min = 1, max = 1024, message = "must be a refresh token"))
    )]
    pub refresh_token: String,
}

/// Body of `POST /v1/auth/apiKey`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "validate", derive(Validate))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApiKeyLogin {
    #[cfg_attr(
        feature = "validate",
        validate(length(min = 1, max = 256, message = "must be an API key"))
    )]
    pub key: String,
}

/// An access token and the refresh token that renews it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
}

/// An access token without a refresh token (API key exchange).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AccessToken {
    pub expires_in: i64,
    pub access_token: String,
    pub token_type: String,
}
