//! Schedules (`/v1/scheduled`): a task on a five-field cron in an IANA timezone.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "validate")]
use validator::Validate;

/// Body of `POST /v1/scheduled`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "validate", derive(Validate))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateSchedule {
    pub function_id: String,
    /// Five fields (minute hour day month weekday) or `@hourly`, `@daily`, `@weekly`, …
    pub cron: String,
    /// IANA name, e.g. `Europe/Rome`.
    pub timezone: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Body of `PATCH /v1/scheduled/{id}`: what is omitted is kept.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "validate", derive(Validate))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateSchedule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The stored payload of every run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InlinePayload {
    pub query: String,
    /// Base64 (standard alphabet).
    pub body: String,
    pub content_type: Option<String>,
}

/// A schedule as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    pub id: String,
    pub function_id: String,
    pub cron: String,
    pub timezone: String,
    pub description: String,
    pub active: bool,
    pub inline_payload: InlinePayload,
    /// The next tick (absent when inactive).
    pub next_run_at: Option<DateTime<Utc>>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}
