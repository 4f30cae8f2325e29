//! Integration tests of the dispatcher's HTTP API: a real server on a free port, a real
//! PostgreSQL with a fresh database per test (`#[sqlx::test]`, needs `DATABASE_URL`).

mod account_settings;
mod accounts;
mod admin_views;
mod affinity;
mod auth_failures;
mod binary;
mod builds;
mod dashboard;
mod endpoints;
mod errors;
mod failures;
mod fake_worker;
mod functions;
mod gateway;
mod health_docs;
mod helpers;
mod history;
mod nodes;
mod prewarm;
mod reliability;
mod retry;
mod revocation;
mod schedules;
mod security;
mod serverledge;
mod snapshots;
mod stats;
mod tags;
mod tasks;
mod triggers;
mod trust;
mod twofa;
mod usage;
mod validation;
