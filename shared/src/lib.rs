//! Canopy wire types shared by the dispatcher, the worker and the CLI: typed ids, the function
//! model (languages, capabilities), the worker ⇄ dispatcher protocol, the matching predicate and
//! the REST API's request/response types (`api`).
//! Serde-level dependencies only.

pub mod api;
pub mod carbon;
pub mod function;
pub mod id;
pub mod image;
pub mod matching;
pub mod protocol;

pub use function::{Capabilities, Lang};
pub use id::{format_id, new_id, parse_id};
