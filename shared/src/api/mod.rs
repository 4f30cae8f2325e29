//! The REST API's request and response bodies, one home for the dispatcher that serves them and
//! the `canopy` CLI and tests that call them, so the two cannot drift. Serde types only; the
//! `validate` feature adds the request rules (`validator`), `openapi` the schemas (`utoipa`).

pub mod auth;
pub mod build;
pub mod endpoint;
pub mod function;
pub mod node;
pub mod problem;
#[cfg(feature = "validate")]
pub mod rules;
pub mod schedule;
pub mod tag;
pub mod task;
pub mod trigger;
pub mod user;

use serde::{Deserialize, Serialize};

pub use problem::{FieldError, Problem};

/// `201 Created` body of every create endpoint: the new resource's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Created {
    pub id: String,
}

/// A numbered page of a list (builds, endpoints, triggers, schedules: the digest's shape).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub page_count: i64,
    pub page_size: u32,
    pub total_count: i64,
    pub results: Vec<T>,
}
