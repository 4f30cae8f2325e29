//! Nodes (volunteers' machines) as `GET /v1/node/list` shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A node with its live state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeView {
    pub hash: String,
    pub description: String,
    /// Offered to other accounts' functions that allow volunteers (capability `volunteers`);
    /// otherwise the node runs only its owner's tasks and those of the owner's pools.
    pub volunteer: bool,
    /// Connected and not deleted: can take tasks.
    pub available: bool,
    /// Deleted (its token is revoked); `PATCH` restores it.
    pub disabled: bool,
    pub connected: bool,
    pub last_seen: Option<DateTime<Utc>>,
    /// What the worker advertised in its last `hello`.
    pub resources: Option<serde_json::Value>,
    /// Measured WebSocket round trip, ms.
    pub latency_ms: Option<i32>,
    /// Grid carbon intensity at the node now, gCO₂e/kWh: live (its latest report or its zone's
    /// feed) when it is connected to this replica, else as of its last `hello`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carbon_intensity: Option<u32>,
    pub running_tasks: i64,
    /// Tasks the node may be given now (the credits its worker granted), when it is connected to
    /// the replica that answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_slots: Option<u32>,
    /// k-of-n verification (docs/security.md): +1 per vote that agreed with the accepted
    /// answer, -5 per vote that did not; below the dispatcher's `--min-trust-score` the node
    /// stops volunteering.
    #[serde(default)]
    pub trust_score: i32,
    #[serde(default)]
    pub votes_agreed: i32,
    #[serde(default)]
    pub votes_disagreed: i32,
    /// `offline`, `disabled`, `paused by owner` (the volunteer's conditions do not hold: it
    /// pulls nothing and its running tasks are frozen) or `online`.
    pub state: String,
    /// Why the owner's conditions paused it (with `state` `paused by owner`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_since: Option<DateTime<Utc>>,
    /// Owner account (shown to admins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A node's id and its token, shown once (registration and restore).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeToken {
    pub hash: String,
    pub token: String,
}
