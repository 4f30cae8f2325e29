//! Account and credential requests.

use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use super::rules;

/// Body of `POST /v1/auth/register`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Register {
    #[validate(length(max = 50, message = "must be at most 50 characters"), custom(function = rules::person_name))]
    pub name: String,
    #[validate(length(max = 20, message = "must be at most 20 characters"), custom(function = rules::person_name))]
    pub surname: String,
    #[validate(
        email(message = "must be an email address"),
        length(max = 254, message = "must be at most 254 characters")
    )]
    pub email: String,
    #[validate(custom(function = rules::password))]
    pub password: String,
}

/// Body of `POST /v1/auth/activate`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Activate {
    #[validate(length(
        min = 1,
        max = 128,
        message = "must be the code from the activation email"
    ))]
    pub code: String,
}

/// Body of `POST /v1/auth/login`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    #[validate(length(min = 1, max = 254, message = "must be an email address"))]
    pub email: String,
    #[validate(length(min = 1, max = 128, message = "must be 1 to 128 characters long"))]
    pub password: String,
    /// The current TOTP code, required when 2FA is on.
    #[validate(length(max = 16, message = "must be a 6-digit code"))]
    pub twofa: Option<String>,
}

/// Body of `POST /v1/auth/refresh`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Refresh {
    #[validate(length(min = 1, max = 1024, message = "must be a refresh token"))]
    pub refresh_token: String,
}

/// Body of `POST /v1/auth/apiKey`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyLogin {
    #[validate(length(min = 1, max = 256, message = "must be an API key"))]
    pub key: String,
}

/// Body of `POST /v1/auth/verify2FA` and `DELETE /v1/auth/2FA`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwofaCode {
    #[validate(length(min = 1, max = 16, message = "must be a 6-digit code"))]
    pub code: String,
}

/// Body of `PUT /v1/user/password`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChangePassword {
    #[validate(length(min = 1, max = 128, message = "must be your current password"))]
    pub current_password: String,
    #[validate(custom(function = rules::password))]
    pub password: String,
    /// The current TOTP code, required when 2FA is on.
    pub twofa: Option<String>,
}

/// Body of `POST /v1/user/apiKey` (optional).
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// A label to tell keys apart, e.g. `ci`.
    #[validate(length(min = 1, max = 64, message = "must be 1 to 64 characters"), custom(function = rules::printascii))]
    pub name: Option<String>,
}
