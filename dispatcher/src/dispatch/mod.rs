//! Live state of this replica's part of the cluster: the workers connected to it (registry),
//! completion waiters, metrics, and the LISTEN/NOTIFY link that makes replicas act as one.

pub mod carbon;
mod completions;
mod energy;
pub mod feeds;
mod histogram;
pub mod listener;
mod metrics;
pub mod policy;
mod prewarms;
mod registry;
mod session;
pub mod trust;

pub use completions::{Completions, Ended, Subscription};
pub use feeds::CarbonFeeds;
pub use histogram::Histogram;
pub use metrics::Metrics;
pub use prewarms::Prewarms;
pub use registry::Registry;
pub use session::{reserved_memory, CloseReason, SessionHandle, DEFAULT_TASK_MEMORY_MB};
