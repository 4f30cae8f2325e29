//! The function model of the GreenCloud contract: languages and capabilities.

use serde::{Deserialize, Serialize};

/// Languages a function may be written in. Uppercase on input, lowercase in responses (the contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Lang {
    #[serde(rename = "GO")]
    Go,
    #[serde(rename = "PY")]
    Py,
    #[serde(rename = "JS")]
    Js,
    #[serde(rename = "CS")]
    Cs,
    #[serde(rename = "RB")]
    Rb,
    #[serde(rename = "RS")]
    Rs,
}

impl Lang {
    pub const ALL: [Lang; 6] = [Lang::Go, Lang::Py, Lang::Js, Lang::Cs, Lang::Rb, Lang::Rs];

    /// The uppercase code used on input and in storage.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Go => "GO",
            Lang::Py => "PY",
            Lang::Js => "JS",
            Lang::Cs => "CS",
            Lang::Rb => "RB",
            Lang::Rs => "RS",
        }
    }

    /// The lowercase code shown in responses.
    pub fn lowercase(self) -> &'static str {
        match self {
            Lang::Go => "go",
            Lang::Py => "py",
            Lang::Js => "js",
            Lang::Cs => "cs",
            Lang::Rb => "rb",
            Lang::Rs => "rs",
        }
    }

    /// Parses the uppercase code; lowercase is refused, as the contract asks for uppercase.
    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|lang| lang.code() == code)
    }
}

/// What a function needs from the node that runs it. Each task copies a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// Seconds before the execution is killed (10–120).
    pub timeout: u32,
    /// CPUs the node must offer (0 = any, up to 4).
    pub cpu_count: u32,
    /// Memory in MB the node must have free (0 = any, up to 2048).
    pub mem_size: u32,
    /// Largest acceptable round trip to the node, in ms (0 = any).
    pub network_latency: u32,
    /// Whether the function needs a privileged container (its account needs an admin's approval).
    pub privileged: bool,
    /// Whether the function's tasks may run on other accounts' volunteer nodes (Canopy's
    /// extension; by default a task runs only on its own account's nodes and its pools').
    #[serde(default)]
    pub volunteers: bool,
}

impl Capabilities {
    pub const TIMEOUT_RANGE: (u32, u32) = (10, 120);
    pub const CPU_COUNT_MAX: u32 = 4;
    pub const MEM_SIZE_MAX: u32 = 2048;
    /// One minute: anything slower is not a latency bound but a mistake.
    pub const NETWORK_LATENCY_MAX: u32 = 60_000;
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            timeout: 10,
            cpu_count: 0,
            mem_size: 0,
            network_latency: 0,
            privileged: false,
            volunteers: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lang_is_uppercase_in_and_lowercase_out() {
        for lang in Lang::ALL {
            assert_eq!(Lang::from_code(lang.code()), Some(lang));
            assert_eq!(lang.lowercase(), lang.code().to_lowercase());
            assert_eq!(Lang::from_code(lang.lowercase()), None);
        }
        assert_eq!(
            serde_json::to_string(&Lang::Py).ok().as_deref(),
            Some("\"PY\"")
        );
    }

    #[test]
    fn capabilities_use_the_contract_field_names() {
        let json = serde_json::to_value(Capabilities::default()).ok();
        let expected = serde_json::json!({
            "timeout": 10, "cpuCount": 0, "memSize": 0, "networkLatency": 0, "privileged": false,
            "volunteers": false
        });
        assert_eq!(json, Some(expected));
    }
}
