//! Function requests with the contract's validation rules.

use canopy_shared::{Capabilities, Lang};
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use super::rules;

/// The only function type the contract knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
pub enum FunctionType {
    #[serde(rename = "DOCKER")]
    Docker,
}

impl FunctionType {
    pub fn code(self) -> &'static str {
        match self {
            FunctionType::Docker => "DOCKER",
        }
    }
}

/// Body of `POST /v1/function`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFunction {
    /// Letters and digits; not unique.
    #[validate(length(max = 64, message = "must be at most 64 characters"), custom(function = rules::alphanum))]
    pub name: String,
    #[validate(length(max = 80, message = "must be at most 80 characters"), custom(function = rules::printascii))]
    pub description: Option<String>,
    /// Ids of the caller's tags.
    #[validate(length(max = 64, message = "must list at most 64 tags"), custom(function = rules::unique_ids))]
    pub tag: Option<Vec<String>>,
    /// Uppercase: GO, PY, JS, CS, RB or RS.
    pub lang: Lang,
    #[serde(rename = "type")]
    pub kind: FunctionType,
}

/// Body of `PATCH /v1/function/{id}`: only the fields given change.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFunction {
    #[validate(length(max = 64, message = "must be at most 64 characters"), custom(function = rules::alphanum))]
    pub name: Option<String>,
    #[validate(length(max = 80, message = "must be at most 80 characters"), custom(function = rules::printascii))]
    pub description: Option<String>,
    #[validate(length(max = 64, message = "must list at most 64 tags"), custom(function = rules::unique_ids))]
    pub tag: Option<Vec<String>>,
}

/// Body of `POST /v1/function/{id}/capabilities`: only the fields given change.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetCapabilities {
    /// Seconds, 10–120.
    #[validate(range(min = 10, max = 120, message = "must be between 10 and 120"))]
    pub timeout: Option<u32>,
    /// 0 (any) to 4.
    #[validate(range(max = 4, message = "must be between 0 and 4"))]
    pub cpu_count: Option<u32>,
    /// MB, 0 (any) to 2048.
    #[validate(range(max = 2048, message = "must be between 0 and 2048"))]
    pub mem_size: Option<u32>,
    /// Largest round trip to the node in ms, 0 (any) to 60000.
    #[validate(range(max = 60000, message = "must be between 0 and 60000"))]
    pub network_latency: Option<u32>,
    /// Also accepted as `privilaged`, the contract's spelling.
    #[serde(alias = "privilaged")]
    pub privileged: Option<bool>,
    /// Whether other accounts' volunteer nodes may run the function's tasks.
    pub volunteers: Option<bool>,
}

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
