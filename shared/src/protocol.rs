//! The worker ⇄ dispatcher protocol: one WebSocket per worker, JSON text frames, one message per
//! frame, `{"type": "...", ...}`. Pull-based: the dispatcher never sends more `assign` messages than
//! the credits the worker has given with `pull`.

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::{Capabilities, Lang};

/// Bumped on incompatible changes; sent in `hello`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest frame either side accepts (bodies are capped well below this).
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Largest function response body, bytes, on both sides: the worker fails a task whose
/// response is larger (`RESPONSE_TOO_LARGE`, not retried) instead of sending it, and the
/// dispatcher refuses a `result` that carries more.
pub const MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

/// A `result` frame: the body in base64 plus room for the rest of the message.
pub const fn result_frame_bytes(body_bytes: usize) -> usize {
    body_bytes.div_ceil(3) * 4 + 64 * 1024
}

// The largest response always fits the default frame limit.
const _: () = assert!(result_frame_bytes(MAX_RESPONSE_BYTES) <= MAX_FRAME_BYTES);

/// Messages a worker sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum WorkerMessage {
    Hello(Hello),
    /// Adds `credits`: the worker can take that many more tasks.
    Pull {
        credits: u32,
    },
    #[serde(rename_all = "camelCase")]
    Started {
        task_id: String,
        attempt: u32,
    },
    #[serde(rename_all = "camelCase")]
    Progress {
        task_id: String,
        attempt: u32,
        percent: u8,
    },
    Result(TaskResult),
    Heartbeat(Heartbeat),
    /// The worker is going away on purpose (e.g. SIGTERM after draining).
    Goodbye {
        reason: String,
    },
    /// The node's carbon intensity changed (a new trace point, a new forecast): the whole
    /// `energy` of `hello` again.
    Energy(Energy),
    /// Answer to `prewarm`: how many containers of the version are now started and idle.
    #[serde(rename_all = "camelCase")]
    Prewarmed {
        request_id: String,
        started: u32,
    },
    /// The volunteer's conditions stopped holding (outside the active hours, not idle, on
    /// battery, pause file present…): the worker stopped pulling and froze its containers; its
    /// running attempts stay assigned (their timeouts stop) until `ownerResumed`, or come back as
    /// retryable failures when the pause outlasts the worker's hand-back bound.
    OwnerPaused {
        reason: String,
    },
    /// The conditions hold again: containers thawed; a `pull` follows.
    OwnerResumed,
}

/// Messages the dispatcher sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum DispatcherMessage {
    Welcome(Welcome),
    Assign(Box<Assignment>),
    /// Stop this attempt: kill its container; no result is expected.
    #[serde(rename_all = "camelCase")]
    Cancel {
        task_id: String,
        attempt: u32,
    },
    /// Stop pulling; finish what is running.
    Drain,
    /// Start `instances` containers of this function version and keep them warm (answered with
    /// `prewarmed`). The node may fetch the version's code for a short while.
    #[serde(rename_all = "camelCase")]
    Prewarm {
        request_id: String,
        function: Box<FunctionSpec>,
        instances: u32,
    },
    /// Compile a build's source package once (GO, RS): answered over HTTP, with the compiled
    /// package (`PUT /v1/worker/compile/{buildId}`) or the compiler's output
    /// (`POST /v1/worker/compile/{buildId}/failure`). Sent only to workers whose `hello` lists the
    /// language in `resources.compiles`.
    Compile(CompileJob),
    /// A protocol error; the dispatcher closes the socket after it.
    Error {
        code: String,
        message: String,
    },
}

/// A compile job: the node may fetch `source_sha256` while it holds the job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompileJob {
    pub build_id: String,
    pub lang: Lang,
    pub source_sha256: String,
    #[serde(default)]
    pub limits: CompileLimits,
}

/// What a compile container may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CompileLimits {
    /// Wall-clock limit of the compiler, seconds.
    pub time_s: u32,
    pub memory_mb: u32,
    pub cpus: u32,
}

impl Default for CompileLimits {
    fn default() -> Self {
        CompileLimits {
            time_s: 120,
            memory_mb: 1024,
            cpus: 1,
        }
    }
}

/// First message of a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hello {
    pub protocol: u32,
    /// The node's id (32 hex or dashed UUID), as registered.
    pub node_id: String,
    /// Worker version, e.g. `0.1.0`.
    pub version: String,
    pub resources: Resources,
    /// Function versions with a warm container on this worker (`functionId@buildId`).
    #[serde(default)]
    pub warm_functions: Vec<String>,
    /// Tasks this worker still runs or holds a result for (after a reconnect). The dispatcher
    /// re-queues the node's other live tasks at once: this process never got them or lost them.
    #[serde(default)]
    pub running: Vec<String>,
}

/// What a node offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    /// CPUs offered to tasks.
    pub cpus: u32,
    /// Memory offered to tasks, MB.
    pub memory_mb: u32,
    /// e.g. `x86_64`, `aarch64`.
    pub arch: String,
    /// e.g. `linux`.
    pub os: String,
    /// Languages whose runtime image is present.
    pub runtimes: Vec<Lang>,
    /// Tasks run at once at most.
    pub max_concurrency: u32,
    pub allows_privileged: bool,
    pub allows_egress: bool,
    /// The owner lets functions with a custom image run here (`--allow-custom-images`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allows_custom_images: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy: Option<Energy>,
    /// Languages this worker takes `compile` jobs for (its image has `start.sh --compile`); empty
    /// from workers that predate compile jobs, which are never sent one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compiles: Vec<Lang>,
}

/// Where the node's power comes from, as the volunteer reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Energy {
    #[serde(default)]
    pub renewable: bool,
    /// Grid carbon intensity, gCO₂/kWh, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carbon_intensity: Option<u32>,
    /// The grid zone (e.g. `GB-13`, `DE`): the dispatcher may poll a feed for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// GreenCloud's rule: take tasks only while the intensity is at most
    /// `renewable_threshold` (and known).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub renewable_only: bool,
    /// gCO₂/kWh under which a `renewable_only` node counts as running on clean power.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewable_threshold: Option<u32>,
    /// The coming intensity (the trace's future points), first point in force now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forecast: Vec<crate::carbon::IntensityPoint>,
}

/// Answer to a valid `hello`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Welcome {
    pub session_id: String,
    pub heartbeat_interval_ms: u64,
    pub lease_ms: u64,
    pub max_frame_bytes: usize,
}

/// Live load, sent every heartbeat interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    pub free_memory_mb: u32,
    /// Host CPU busy, percent.
    pub cpu_busy_percent: u8,
    /// Attempts running now, as `taskId`.
    pub running: Vec<String>,
    /// Function versions with a warm container now (`functionId@buildId`): the dispatcher
    /// prefers this worker for their tasks.
    #[serde(default)]
    pub warm_functions: Vec<String>,
}

/// One task to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    pub task_id: String,
    pub attempt: u32,
    pub lease_ms: u64,
    pub function: FunctionSpec,
    pub request: TaskRequest,
}

/// The function version to run and its limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionSpec {
    pub function_id: String,
    /// The build whose artifact is run; with `function_id` it names a warm container.
    pub build_id: String,
    pub lang: Lang,
    /// sha256 (hex) of the code package, a plain tar; fetch it from
    /// `GET /v1/worker/artifact/{sha256}` with the node token.
    pub artifact_sha256: String,
    pub artifact_size: u64,
    pub capabilities: Capabilities,
    /// The custom image to run instead of the language's runtime image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<crate::image::CustomImage>,
}

impl FunctionSpec {
    /// Key of the warm container for this function version; a custom image's pin (or
    /// reference) is part of it, so a container of an image the function no longer names is
    /// never reused.
    pub fn version_key(&self) -> String {
        match &self.image {
            None => format!("{}@{}", self.function_id, self.build_id),
            Some(image) => format!(
                "{}@{}@{}",
                self.function_id,
                self.build_id,
                image.pin.as_ref().unwrap_or(&image.reference)
            ),
        }
    }
}

/// The caller's request, replayed to the function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRequest {
    pub method: String,
    /// Raw query string without `?`.
    pub query: String,
    /// Allowed headers, lowercase names.
    pub headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Body bytes, base64 (standard alphabet).
    pub body: String,
}

/// The end of an attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    pub task_id: String,
    pub attempt: u32,
    pub outcome: Outcome,
    pub timings: Timings,
    /// CPU time and energy of the attempt, when the worker could measure them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The slot the attempt held is offered again, as one credit, in the same frame. A separate
    /// `pull` after the result would leave a moment where the task's caller has its answer but
    /// the node has no credit, and the caller's next task would go to a colder or dirtier node.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub regrant: bool,
    /// The image id an unpinned custom image resolved to on this worker; the dispatcher pins
    /// the function to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pin: Option<crate::image::ImagePin>,
}

/// What an attempt consumed on its node (`docs/energy.md`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// CPU time of the attempt's container (user + system), seconds, from its cgroup.
    pub cpu_seconds: f64,
    /// Energy attributed to the attempt, watt-hours (power model or RAPL).
    pub energy_wh: f64,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Outcome {
    /// The function answered. `error` is set when the handler raised (the runner's 500 with
    /// `X-Canopy-Error`).
    #[serde(rename_all = "camelCase")]
    Response {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_type: Option<String>,
        /// Body bytes, base64.
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The function did not answer within its timeout; its container was killed.
    TimedOut { message: String },
    /// The attempt could not run or finish; `retryable` failures are not the function's fault
    /// (container could not start, artifact missing, worker draining).
    Failed { message: String, retryable: bool },
}

/// How long each part took, ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    /// Container start and code load (0 when warm).
    pub init_ms: u64,
    /// The function's own run.
    pub exec_ms: u64,
    pub warm: bool,
}

/// Encodes body bytes for the wire.
pub fn encode_body(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes body bytes from the wire.
pub fn decode_body(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    base64::engine::general_purpose::STANDARD.decode(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip<T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug>(
        value: &T,
        expected: serde_json::Value,
    ) {
        let json = serde_json::to_value(value).expect("serializes");
        assert_eq!(json, expected);
        let back: T = serde_json::from_value(json).expect("deserializes");
        assert_eq!(&back, value);
    }

    fn resources() -> Resources {
        Resources {
            cpus: 2,
            memory_mb: 1024,
            arch: "x86_64".into(),
            os: "linux".into(),
            runtimes: vec![Lang::Py, Lang::Js],
            max_concurrency: 4,
            allows_privileged: false,
            allows_egress: false,
            allows_custom_images: false,
            compiles: Vec::new(),
            energy: None,
        }
    }

    #[test]
    fn hello_and_pull_have_a_stable_wire_form() {
        let hello = WorkerMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            node_id: "n1".into(),
            version: "0.1.0".into(),
            resources: resources(),
            warm_functions: vec![],
            running: vec!["t1".into()],
        });
        round_trip(
            &hello,
            json!({"type": "hello", "protocol": 1, "nodeId": "n1", "version": "0.1.0", "warmFunctions": [], "running": ["t1"],
                   "resources": {"cpus": 2, "memoryMb": 1024, "arch": "x86_64", "os": "linux", "runtimes": ["PY", "JS"],
                                 "maxConcurrency": 4, "allowsPrivileged": false, "allowsEgress": false}}),
        );
        round_trip(
            &WorkerMessage::Pull { credits: 3 },
            json!({"type": "pull", "credits": 3}),
        );
        round_trip(
            &WorkerMessage::Started {
                task_id: "t".into(),
                attempt: 2,
            },
            json!({"type": "started", "taskId": "t", "attempt": 2}),
        );
    }

    #[test]
    fn energy_has_a_stable_wire_form_and_old_reports_still_parse() {
        let energy = WorkerMessage::Energy(Energy {
            renewable: false,
            carbon_intensity: Some(93),
            zone: Some("GB-13".into()),
            renewable_only: true,
            renewable_threshold: Some(100),
            forecast: vec![crate::carbon::IntensityPoint {
                at: 1_678_752_000,
                intensity: 93,
            }],
        });
        round_trip(
            &energy,
            json!({"type": "energy", "renewable": false, "carbonIntensity": 93, "zone": "GB-13",
                   "renewableOnly": true, "renewableThreshold": 100,
                   "forecast": [{"at": 1_678_752_000, "intensity": 93}]}),
        );
        let old: Energy = serde_json::from_value(json!({"renewable": true})).expect("parses");
        assert!(!old.renewable_only && old.forecast.is_empty() && old.zone.is_none());
    }

    #[test]
    fn assign_and_result_have_a_stable_wire_form() {
        let assign = DispatcherMessage::Assign(Box::new(Assignment {
            task_id: "t".into(),
            attempt: 1,
            lease_ms: 30_000,
            function: FunctionSpec {
                function_id: "f".into(),
                build_id: "b".into(),
                lang: Lang::Py,
                artifact_sha256: "ab".into(),
                artifact_size: 10,
                capabilities: Capabilities::default(),
                image: None,
            },
            request: TaskRequest {
                method: "POST".into(),
                query: "a=1".into(),
                headers: vec![("x-a".into(), "1".into())],
                content_type: Some("application/json".into()),
                body: encode_body(b"{}"),
            },
        }));
        round_trip(
            &assign,
            json!({"type": "assign", "taskId": "t", "attempt": 1, "leaseMs": 30000,
                   "function": {"functionId": "f", "buildId": "b", "lang": "PY", "artifactSha256": "ab", "artifactSize": 10,
                                "capabilities": {"timeout": 10, "cpuCount": 0, "memSize": 0, "networkLatency": 0, "privileged": false, "volunteers": false}},
                   "request": {"method": "POST", "query": "a=1", "headers": [["x-a", "1"]], "contentType": "application/json", "body": "e30="}}),
        );
        let result = WorkerMessage::Result(TaskResult {
            regrant: false,
            image_pin: None,
            task_id: "t".into(),
            attempt: 1,
            outcome: Outcome::Response {
                status: 200,
                content_type: None,
                body: encode_body(&[0, 255]),
                error: None,
            },
            timings: Timings {
                init_ms: 5,
                exec_ms: 1,
                warm: false,
            },
            usage: None,
        });
        round_trip(
            &result,
            json!({"type": "result", "taskId": "t", "attempt": 1,
                   "outcome": {"kind": "response", "status": 200, "body": "AP8="},
                   "timings": {"initMs": 5, "execMs": 1, "warm": false}}),
        );
        round_trip(
            &DispatcherMessage::Cancel {
                task_id: "t".into(),
                attempt: 1,
            },
            json!({"type": "cancel", "taskId": "t", "attempt": 1}),
        );
        round_trip(
            &Outcome::Failed {
                message: "no image".into(),
                retryable: true,
            },
            json!({"kind": "failed", "message": "no image", "retryable": true}),
        );
    }

    #[test]
    fn owner_pause_and_usage_have_a_stable_wire_form() {
        round_trip(
            &WorkerMessage::OwnerPaused {
                reason: "outside the active hours".into(),
            },
            json!({"type": "ownerPaused", "reason": "outside the active hours"}),
        );
        round_trip(
            &WorkerMessage::OwnerResumed,
            json!({"type": "ownerResumed"}),
        );
        let result = WorkerMessage::Result(TaskResult {
            regrant: false,
            image_pin: None,
            task_id: "t".into(),
            attempt: 1,
            outcome: Outcome::TimedOut {
                message: "late".into(),
            },
            timings: Timings::default(),
            usage: Some(Usage {
                cpu_seconds: 1.5,
                energy_wh: 0.25,
            }),
        });
        round_trip(
            &result,
            json!({"type": "result", "taskId": "t", "attempt": 1,
                   "outcome": {"kind": "timedOut", "message": "late"},
                   "timings": {"initMs": 0, "execMs": 0, "warm": false},
                   "usage": {"cpuSeconds": 1.5, "energyWh": 0.25}}),
        );
    }

    #[test]
    fn unknown_message_types_are_refused() {
        assert!(serde_json::from_str::<WorkerMessage>(r#"{"type":"explode"}"#).is_err());
        assert!(serde_json::from_str::<WorkerMessage>(r#"{"credits":1}"#).is_err());
    }

    #[test]
    fn bodies_round_trip_byte_for_byte() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(decode_body(&encode_body(&bytes)).ok(), Some(bytes));
    }
}
