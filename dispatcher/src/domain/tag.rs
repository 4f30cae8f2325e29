//! Tag requests.

use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use super::rules;

/// Body of `POST /v1/tag`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTag {
    #[validate(length(max = 64, message = "must be at most 64 characters"), custom(function = rules::required_printascii))]
    pub name: String,
    #[validate(custom(function = rules::hexcolor))]
    pub color: Option<String>,
}

/// Body of `PATCH /v1/tag/{id}`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTag {
    #[validate(length(max = 64, message = "must be at most 64 characters"), custom(function = rules::required_printascii))]
    pub name: Option<String>,
    #[validate(custom(function = rules::hexcolor))]
    pub color: Option<String>,
}
