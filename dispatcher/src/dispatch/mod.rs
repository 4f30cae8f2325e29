//! Live state of this replica's part of the cluster: the workers connected to it (registry),
//! completion waiters, metrics, and the LISTEN/NOTIFY link that makes replicas act as one.

mod completions;
mod histogram;
pub mod listener;
mod metrics;
mod registry;
pub mod trust;

pub use completions::{Completions, Ended, Subscription};
pub use histogram::Histogram;
pub use metrics::Metrics;
pub use registry::{reserved_memory, CloseReason, Registry, SessionHandle, DEFAULT_TASK_MEMORY_MB};
