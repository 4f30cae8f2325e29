//! Field rules of the GreenCloud contract: they live with the request types in
//! `canopy_shared::api::rules`, re-exported here for the dispatcher's own request types.

pub use canopy_shared::api::rules::*;
