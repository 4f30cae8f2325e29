//! Canopy worker daemon: dials the dispatcher over a WebSocket, advertises this machine, pulls
//! tasks and runs each in a locked-down Docker container.

pub mod backoff;
pub mod carbon;
pub mod cli;
pub mod config;
pub mod connection;
pub mod daemon;
pub mod doctor;
pub mod executor;
pub mod host;
pub mod register;
pub mod service;
pub mod telemetry;
pub mod volunteer;

#[cfg(test)]
pub(crate) mod testutil;
