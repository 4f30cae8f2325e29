//! Tags: create, rename or recolour, and as embedded in functions.

use serde::{Deserialize, Serialize};

#[cfg(feature = "validate")]
use super::rules;
#[cfg(feature = "validate")]
use validator::Validate;

/// Body of `POST /v1/tag`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "validate", derive(Validate))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateTag {
    #[cfg_attr(feature = "validate", validate(length(max = 64, message = "must be at most 64 characters"), custom(function = rules::required_printascii)))]
    pub name: String,
    #[cfg_attr(feature = "validate", validate(custom(function = rules::hexcolor)))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// Body of `PATCH /v1/tag/{id}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "validate", derive(Validate))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateTag {
    #[cfg_attr(feature = "validate", validate(length(max = 64, message = "must be at most 64 characters"), custom(function = rules::required_printascii)))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[cfg_attr(feature = "validate", validate(custom(function = rules::hexcolor)))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// A tag as listed and as embedded in functions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TagView {
    pub id: String,
    pub name: String,
    pub color: Option<String>,
}
