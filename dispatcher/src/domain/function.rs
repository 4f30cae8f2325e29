//! Function requests (their types and rules live in `canopy_shared::api::function`) and the
//! capabilities stored in a function's columns.

use canopy_shared::Capabilities;

pub use canopy_shared::api::function::{
    CreateFunction, FunctionType, SetCapabilities, UpdateFunction,
};

/// Capabilities from their stored integer columns (CHECK constraints keep them in range).
pub fn capabilities_from_columns(
    timeout_s: i32,
    cpu_count: i32,
    mem_size_mb: i32,
    network_latency_ms: i32,
    privileged: bool,
    volunteers: bool,
) -> Capabilities {
    let to_u32 = |value: i32| u32::try_from(value).unwrap_or(0);
    Capabilities {
        timeout: to_u32(timeout_s),
        cpu_count: to_u32(cpu_count),
        mem_size: to_u32(mem_size_mb),
        network_latency: to_u32(network_latency_ms),
        privileged,
        volunteers,
    }
}

const _: () = assert!(Capabilities::CPU_COUNT_MAX == 4 && Capabilities::MEM_SIZE_MAX == 2048);
