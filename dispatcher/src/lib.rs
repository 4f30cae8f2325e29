//! Canopy dispatcher: the authenticated REST API over Postgres (accounts, functions, tags),
//! with an embedded PostgreSQL for local use.

pub mod admin;
pub mod auth;
pub mod builds;
pub mod cli;
pub mod compiles;
pub mod db;
pub mod dispatch;
pub mod domain;
pub mod embedded_pg;
pub mod endpoints;
pub mod error;
pub mod extract;
pub mod gates;
pub mod gateway;
pub mod history;
pub mod quotas;
pub mod routes;
pub mod schedules;
pub mod serverledge;
pub mod settings;
pub mod startup;
pub mod state;
pub mod tasks;
pub mod telemetry;
pub mod triggers;
