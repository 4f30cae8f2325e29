//! Functions: create, edit, capabilities, and the bodies of `GET /v1/function/{id}` and the list.

use serde::{Deserialize, Serialize};

#[cfg(feature = "validate")]
use super::rules;
use super::tag::TagView;
use crate::{Capabilities, Lang};
#[cfg(feature = "validate")]
use validator::Validate;

/// The only function type the contract knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "validate", derive(Validate))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateFunction {
    /// Letters and digits; not unique.
    #[cfg_attr(feature = "validate", validate(length(max = 64, message = "must be at most 64 characters"), custom(function = rules::alphanum)))]
    pub name: String,
    #[cfg_attr(feature = "validate", validate(length(max = 80, message = "must be at most 80 characters"), custom(function = rules::printascii)))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Ids of the caller's tags.
    #[cfg_attr(feature = "validate", validate(length(max = 64, message = "must list at most 64 tags"), custom(function = rules::unique_ids)))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<Vec<String>>,
    /// Uppercase: GO, PY, JS, CS, RB or RS.
    pub lang: Lang,
    #[serde(rename = "type")]
    pub kind: FunctionType,
    /// A custom image (`repo[:tag][@sha256:<64 hex>]`) the function runs in instead of its
    /// language's runtime image; it must serve the runtime contract. Runs only on workers that
    /// allow custom images.
    #[cfg_attr(feature = "validate", validate(custom(function = rules::image_reference)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// Body of `PATCH /v1/function/{id}`: only the fields given change.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "validate", derive(Validate))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateFunction {
    #[cfg_attr(feature = "validate", validate(length(max = 64, message = "must be at most 64 characters"), custom(function = rules::alphanum)))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[cfg_attr(feature = "validate", validate(length(max = 80, message = "must be at most 80 characters"), custom(function = rules::printascii)))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[cfg_attr(feature = "validate", validate(length(max = 64, message = "must list at most 64 tags"), custom(function = rules::unique_ids)))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<Vec<String>>,
    /// A custom image; the empty string goes back to the language's runtime image. Setting it,
    /// even to the same reference, drops the pin (the next worker to run the function pins again).
    #[cfg_attr(feature = "validate", validate(custom(function = image_or_none)))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

#[cfg(feature = "validate")]
fn image_or_none(value: &str) -> Result<(), validator::ValidationError> {
    if value.is_empty() {
        return Ok(());
    }
    rules::image_reference(value)
}

/// Body of `POST /v1/function/{id}/capabilities`: only the fields given change.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "validate", derive(Validate))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetCapabilities {
    /// Seconds, 10–120.
    #[cfg_attr(
        feature = "validate",
        validate(range(min = 10, max = 120, message = "must be between 10 and 120"))
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// 0 (any) to 4.
    #[cfg_attr(
        feature = "validate",
        validate(range(max = 4, message = "must be between 0 and 4"))
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_count: Option<u32>,
    /// MB, 0 (any) to 2048.
    #[cfg_attr(
        feature = "validate",
        validate(range(max = 2048, message = "must be between 0 and 2048"))
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_size: Option<u32>,
    /// Largest round trip to the node in ms, 0 (any) to 60000.
    #[cfg_attr(
        feature = "validate",
        validate(range(max = 60000, message = "must be between 0 and 60000"))
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_latency: Option<u32>,
    /// Also accepted as `privilaged`, the contract's spelling.
    #[serde(alias = "privilaged", skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// Whether other accounts' volunteer nodes may run the function's tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volunteers: Option<bool>,
}

/// `GET|PUT /v1/function/{id}/verification`: k-of-n result verification (BOINC's quorum). Each
/// task runs on nodes of `quorum` different owners, one after another, and its result is the
/// answer `quorum` of them gave; after `maxRuns` runs without that, the task fails `no_quorum`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "validate", derive(Validate))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Verification {
    /// 0 (off) or 2–5.
    pub quorum: u32,
    /// Most runs of one task, `quorum`–10; 0 or left out means twice the quorum.
    #[serde(default)]
    pub max_runs: u32,
}

impl Verification {
    pub const QUORUM_MAX: u32 = 5;
    pub const RUNS_MAX: u32 = 10;

    /// The stored form: `max_runs` made explicit (0 with no quorum); or the field at fault.
    pub fn normalized(self) -> Result<Verification, (&'static str, String)> {
        match self.quorum {
            0 if self.max_runs == 0 => Ok(self),
            0 => Err(("maxRuns", "must be 0 when quorum is 0".into())),
            1 => Err((
                "quorum",
                "must be 0 (off) or between 2 and 5: one run verifies nothing".into(),
            )),
            quorum if quorum > Self::QUORUM_MAX => {
                Err(("quorum", "must be 0 (off) or between 2 and 5".into()))
            }
            quorum => {
                let max_runs = if self.max_runs == 0 {
                    (2 * quorum).min(Self::RUNS_MAX)
                } else {
                    self.max_runs
                };
                if max_runs < quorum || max_runs > Self::RUNS_MAX {
                    return Err((
                        "maxRuns",
                        format!("must be between the quorum ({quorum}) and 10"),
                    ));
                }
                Ok(Verification { quorum, max_runs })
            }
        }
    }
}

/// Task counters of a function.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    pub todays_tasks: i64,
    pub pending_tasks: i64,
    pub week_tasks: i64,
    pub completed_tasks: i64,
}

/// `GET /v1/function/{id}`: the contract's body plus `id`, `paused` and `createdAt`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FunctionDetail {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Lowercase, e.g. `docker`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Lowercase, e.g. `go`.
    pub lang: String,
    pub tags: Vec<TagView>,
    pub capabilities: Capabilities,
    pub metrics: Metrics,
    pub paused: bool,
    /// Unix seconds, as a string (the contract's list format).
    pub created_at: String,
    /// The custom image, when the function has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The image id every start must use (docs/runtime-contract.md), once a worker pinned it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pin: Option<String>,
}

/// An entry of `GET /v1/function/list`: the contract's fields plus `paused`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FunctionSummary {
    pub id: String,
    pub name: String,
    pub description: String,
    pub lang: String,
    pub tags: Vec<TagView>,
    pub paused: bool,
    pub created_at: String,
}
