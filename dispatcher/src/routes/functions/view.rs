//! Function response bodies (`canopy_shared::api::function`), shaped as the contract's examples,
//! made from rows.

use std::collections::HashMap;

use canopy_shared::{Capabilities, Lang};
use uuid::Uuid;

pub use canopy_shared::api::function::{FunctionDetail, FunctionSummary, Metrics};
pub use canopy_shared::api::tag::TagView;

use crate::db::functions::FunctionRow;
use crate::db::images::ImageRow;
use crate::db::tags::TagRow;
use crate::domain::function::capabilities_from_columns;
use crate::routes::unix_string;

impl From<TagRow> for TagView {
    fn from(row: TagRow) -> Self {
        TagView {
            id: canopy_shared::format_id(row.id),
            name: row.name,
            color: row.color,
        }
    }
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

/// `GET /v1/function/{id}`'s body.
pub fn detail(
    row: FunctionRow,
    tags: Vec<TagRow>,
    metrics: Metrics,
    image: ImageRow,
) -> FunctionDetail {
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
        image: image.image,
        image_pin: image.image_pin,
    }
}

/// Summaries of `rows`, each with its tags from `tags` (function id, tag) pairs.
pub fn summaries(rows: Vec<FunctionRow>, tags: Vec<(Uuid, TagRow)>) -> Vec<FunctionSummary> {
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
