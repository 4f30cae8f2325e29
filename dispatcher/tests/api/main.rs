//! Integration tests of the dispatcher's HTTP API: a real server on a free port, a real
//! PostgreSQL with a fresh database per test (`#[sqlx::test]`, needs `DATABASE_URL`).

mod accounts;
mod auth_failures;
mod errors;
mod functions;
mod health_docs;
mod helpers;
mod tags;
mod twofa;
mod validation;
