//! The caller's account and API keys.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "validate")]
use super::rules;
#[cfg(feature = "validate")]
use validator::Validate;

/// An API key as listed: never the secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A newly created key: the only time `key` is shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NewApiKey {
    pub id: String,
    pub name: String,
    pub key: String,
    pub prefix: String,
}

/// The caller's account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub surname: String,
    pub role: String,
    pub twofa: bool,
    pub created_at: DateTime<Utc>,
    pub api_keys: Vec<ApiKeyView>,
}

/// Body of `POST /v1/user/apiKey` (optional).
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "validate", derive(Validate))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// A label to tell keys apart, e.g. `ci`.
    #[cfg_attr(feature = "validate", validate(length(min = 1, max = 64, message = "must be 1 to 64 characters"), custom(function = rules::printascii)))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}
