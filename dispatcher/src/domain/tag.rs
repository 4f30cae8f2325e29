//! Tag requests: their types and rules live in `canopy_shared::api::tag`.

pub use canopy_shared::api::tag::{CreateTag, UpdateTag};
