//! Public endpoints (`/v1/endpoint`): the create/change body and what the management API shows.
//! GreenCloud's own docs send `origin` as a string and call `timeLimit` a string; the string
//! form of `origin` is accepted, the object form of `timeLimit` is required.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

#[cfg(feature = "validate")]
use validator::Validate;

/// One daily window in an IANA timezone; `from` > `to` spans midnight.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TimeLimit {
    /// `HH:MM`, local time.
    pub from: String,
    /// `HH:MM`, local time (exclusive).
    pub to: String,
    /// IANA name, e.g. `Europe/Rome`.
    pub timezone: String,
}

/// `origin`: a list, or one string as GreenCloud's example sends it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum Origins {
    One(String),
    Many(Vec<String>),
}

impl Origins {
    /// The origins as a list (a blank single string is none).
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Origins::One(one) if one.trim().is_empty() => Vec::new(),
            Origins::One(one) => vec![one],
            Origins::Many(many) => many,
        }
    }
}

/// Body of `POST /v1/endpoint/{functionId}` and `PATCH /v1/endpoint/{id}` (every field optional;
/// on PATCH an omitted field keeps its value and `timeLimit: null` removes the window).
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "validate", derive(Validate))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EndpointBody {
    /// Printable ASCII, at most 256 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Ids of the caller's tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<Vec<String>>,
    /// Calls per day; -1 (the default) is unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily_limit: Option<i64>,
    /// Allowed browser origins (`https://host[:port]`); empty allows any.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origins>,
    /// Allowed client addresses: IPv4 or IPv6, single or CIDR; empty allows any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<Vec<String>>,
    /// One daily window in which calls are accepted.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<TimeLimit>))]
    pub time_limit: Option<Option<TimeLimit>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A tag as lists show it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndpointTag {
    pub id: String,
    pub name: String,
    pub color: Option<String>,
}

/// The daily window as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeLimitView {
    pub from: String,
    pub to: String,
    pub timezone: String,
}

/// `GET /v1/endpoint/{id}`: GreenCloud's body plus `id` and the public `url`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EndpointView {
    pub id: String,
    pub function_id: String,
    pub description: String,
    pub tags: Vec<EndpointTag>,
    /// -1 = unlimited.
    pub daily_limit: i32,
    pub origin: Vec<String>,
    pub ip: Vec<String>,
    pub time_limit: Option<TimeLimitView>,
    /// Path of the public URL (`/gc/{id}`).
    pub url: String,
    /// RFC 3339, as GreenCloud shows endpoints.
    pub created_at: DateTime<Utc>,
}

/// `GET /v1/endpoint/{id}/metrics`: GreenCloud's `todayTasks`, `pendingTasks`, `weekTasks`, and
/// what the daily limit has counted today.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EndpointMetricsView {
    pub today_tasks: i64,
    pub pending_tasks: i64,
    pub week_tasks: i64,
    pub succeeded_tasks: i64,
    pub failed_tasks: i64,
    /// Calls counted against `dailyLimit` in the endpoint's current local day.
    pub today_calls: i64,
    pub daily_limit: i32,
}
