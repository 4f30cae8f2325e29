//! Account and credential requests.

use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use super::rules;

pub use canopy_shared::api::auth::{ApiKeyLogin, Login, Refresh};
pub use canopy_shared::api::user::CreateApiKey;

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
