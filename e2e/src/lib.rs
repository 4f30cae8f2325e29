//! What the end-to-end suites (`tests/e2e`, `tests/security`) share: the platform under test
//! (`harness`: an in-process dispatcher and worker processes) and real processes to kill and
//! restart (`procs`: dispatcher replicas and no-op workers).

pub mod harness;
pub mod procs;
