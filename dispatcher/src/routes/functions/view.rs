//! Function response bodies, shaped as the contract's examples.

use std::collections::HashMap;

use canopy_shared::{Capabilities, Lang};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::functions::FunctionRow;
use crate::db::tags::TagRow;
use crate::domain::function::capabilities_from_columns;
use crate::routes::unix_string;

/// A tag as embedded in responses.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TagView {
    pub id: String,
    pub name: String,
    pub color: Option<String>,
}

impl From<TagRow> for TagView {
    fn from(row: TagRow) -> Self {
        TagView {
            id: canopy_shared::format_id(row.id),
            name: row.name,
            color: row.color,
        }
    }
}

/// Task counters of a function.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    pub todays_tasks: i64,
    pub pending_tasks: i64,
    pub week_tasks: i64,
    pub completed_tasks: i64,
}

/// `GET /v1/function/{id}`: the contract's body plus `id`, `paused` and `createdAt`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionDetail {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Lowercase, e.g. `docker`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Lowercase, e.g. `go`.
    pub lang: String,
    pub tags: Vec<TagView>,
    pub capabilities: Capabilities,
    pub metrics: Metrics,
    pub paused: bool,
    /// Unix seconds, as a string (the contract's list format).
    pub created_at: String,
}

/// An entry of `GET /v1/function/list`: the contract's fields plus `paused`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionSummary {
    pub id: String,
    pub name: String,
    pub description: String,
    pub lang: String,
    pub tags: Vec<TagView>,
    pub paused: bool,
    pub created_at: String,
}

fn lowercase_lang(code: &str) -> String {
    Lang::from_code(code).map_or_else(|| code.to_lowercase(), |lang| lang.lowercase().to_owned())
}

/// A function's capabilities.
pub fn capabilities(row: &FunctionRow) -> Capabilities {
    capabilities_from_columns(
        row.timeout_s,
        row.cpu_count,
        row.mem_size_mb,
        row.network_latency_ms,
        row.privileged,
        row.volunteers,
    )
}

impl FunctionDetail {
    pub fn new(row: FunctionRow, tags: Vec<TagRow>, metrics: Metrics) -> Self {
        FunctionDetail {
            id: canopy_shared::format_id(row.id),
            capabilities: capabilities(&row),
            kind: row.kind.to_lowercase(),
            lang: lowercase_lang(&row.lang),
            tags: tags.into_iter().map(TagView::from).collect(),
            metrics,
            paused: row.paused,
            created_at: unix_string(row.created_at),
            name: row.name,
            description: row.description,
        }
    }
}

impl FunctionSummary {
    /// Summaries of `rows`, each with its tags from `tags` (function id, tag) pairs.
    pub fn many(rows: Vec<FunctionRow>, tags: Vec<(Uuid, TagRow)>) -> Vec<Self> {
        let mut by_function: HashMap<Uuid, Vec<TagView>> = HashMap::new();
        for (function_id, tag) in tags {
            by_function.entry(function_id).or_default().push(tag.into());
        }
        rows.into_iter()
            .map(|row| FunctionSummary {
                id: canopy_shared::format_id(row.id),
                lang: lowercase_lang(&row.lang),
                tags: by_function.remove(&row.id).unwrap_or_default(),
                paused: row.paused,
                created_at: unix_string(row.created_at),
                name: row.name,
                description: row.description,
            })
            .collect()
    }
}
