//! Triggers (`/v1/trigger`): a task of `nextId` each time a task of `functionId` ends.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "validate")]
use validator::Validate;

/// Body of `POST /v1/trigger`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "validate", derive(Validate))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateTrigger {
    /// The source function.
    pub function_id: String,
    /// The function a task is submitted to.
    pub next_id: String,
    /// Pass the source's response (body and content type) as the next task's body.
    pub include_result: bool,
    /// The source's HTTP status that fires the trigger (100–599); 0 or absent: any end but a
    /// cancel, including failures without a response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Body of `PATCH /v1/trigger/{id}`: source and target are fixed; what is omitted is kept.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "validate", derive(Validate))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateTrigger {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_result: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A trigger as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TriggerView {
    pub id: String,
    pub function_id: String,
    pub next_id: String,
    /// 0 = any end but a cancel.
    pub status: i32,
    pub include_result: bool,
    pub description: String,
    pub tags: Vec<TriggerTag>,
    pub created_at: DateTime<Utc>,
    /// Source tasks that started a next task / were refused (paused or undeployed target,
    /// chain too deep) / are being submitted.
    pub fired: i64,
    pub refused: i64,
    pub pending: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TriggerTag {
    pub id: String,
    pub name: String,
    pub color: Option<String>,
}
