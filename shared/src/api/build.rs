//! Builds: a function's uploaded code, as `GET /v1/build/{id}` and the build list show it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A build as shown by the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BuildView {
    pub id: String,
    pub function_id: String,
    /// `PENDING`, `SUCCESS` or `FAILED`.
    pub status: String,
    pub arch: Vec<String>,
    pub timeline: serde_json::Value,
    pub log: Vec<String>,
    pub entry_point: Option<String>,
    pub artifact_sha256: Option<String>,
    pub artifact_size: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// An entry of `GET /v1/build/list`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BuildSummary {
    pub id: String,
    pub function_id: String,
    /// `PENDING`, `SUCCESS` or `FAILED`.
    pub status: String,
    pub created_at: DateTime<Utc>,
}
