//! The security suite (docs/security.md): each attack of the audit replayed against the real
//! dispatcher (a `canopy-dispatcher` process where its memory is measured) and real
//! `canopy-worker` processes running real containers; each test asserts that the attack fails
//! and that the platform goes on serving. Needs PostgreSQL (`DATABASE_URL`), the built binaries,
//! Docker with the runtime images and `CANOPY_DOCKER_TESTS=1` (`./scripts/test` provides them);
//! without the variable each test prints why it did nothing.
//!
//! - `memory`: a WebSocket frame announcing 2^62 bytes; a flood of result lookups and abandoned
//!   waits.
//! - `tenancy`: another account's worker asking for, downloading or answering a task it was
//!   not given.
//! - `deadlines`: a node renewing a task's lease past the task's timeout.
//! - `accounts`: lock-out by wrong passwords, tokens after a password change, privileged
//!   functions without approval, `/metrics` from outside.
//! - `sandbox`: a function answering more than the response limit, exhausting its memory, or
//!   leaving processes behind.

mod accounts;
mod deadlines;
mod memory;
mod node;
mod sandbox;
mod target;
mod tenancy;
