//! Canopy wire types shared by the dispatcher, the worker and the CLI: typed ids, the function
//! model (languages, capabilities) and API bodies. Serde-level dependencies only.

pub mod function;
pub mod id;

pub use function::{Capabilities, Lang};
pub use id::{format_id, new_id, parse_id};
