//! One module per command group; each owns its arguments (clap derive) and its handler.

pub mod auth;
pub mod capabilities;
pub mod context;
pub mod deploy;
pub mod endpoints;
pub mod fns;
pub mod invoke;
pub mod keys;
pub mod nodes;
pub mod schedules;
pub mod tags;
pub mod tasks;
pub mod triggers;
pub mod verification;
