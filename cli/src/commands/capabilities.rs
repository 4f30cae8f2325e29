//! `canopy fn capabilities`: what a function needs from the node that runs it.

use canopy_shared::api::function::SetCapabilities;
use canopy_shared::Capabilities;
use reqwest::Method;

use crate::client::Api;
use crate::error::CliResult;
use crate::ids::parse_id;
use crate::output::{yes_no, Out};
use crate::project::function_id;

#[derive(Debug, clap::Args)]
pub struct CapabilityArgs {
    #[arg(value_parser = parse_id)]
    pub id: Option<String>,
    /// Seconds, 10–120.
    #[arg(long)]
    pub timeout: Option<u32>,
    /// CPUs, 0 (any) to 4.
    #[arg(long)]
    pub cpu: Option<u32>,
    /// Memory in MB, 0 (any) to 2048.
    #[arg(long)]
    pub mem: Option<u32>,
    /// Largest round trip to the node in ms (0 = any).
    #[arg(long)]
    pub latency: Option<u32>,
    /// Needs an admin's approval of the account.
    #[arg(long)]
    pub privileged: Option<bool>,
    /// May run on other accounts' volunteer nodes.
    #[arg(long)]
    pub volunteers: Option<bool>,
}

/// One line for `fn get`.
pub fn capability_line(caps: &Capabilities) -> String {
    format!(
        "timeout={}s cpu={} mem={}MB latency={}ms privileged={} volunteers={}",
        caps.timeout,
        caps.cpu_count,
        caps.mem_size,
        caps.network_latency,
        caps.privileged,
        caps.volunteers
    )
}

pub async fn run(api: &Api, out: Out, args: CapabilityArgs) -> CliResult<()> {
    let id = function_id(args.id)?;
    let change = SetCapabilities {
        timeout: args.timeout,
        cpu_count: args.cpu,
        mem_size: args.mem,
        network_latency: args.latency,
        privileged: args.privileged,
        volunteers: args.volunteers,
    };
    let path = format!("/v1/function/{id}/capabilities");
    let changes = serde_json::to_value(&change)
        .is_ok_and(|value| value.as_object().is_some_and(|o| !o.is_empty()));
    if changes {
        api.call(Method::POST, &path, Some(&change)).await?;
    }
    let caps: Capabilities = api.get(&path).await?;
    out.one(
        &caps,
        &id,
        vec![
            ("timeout", format!("{} s", caps.timeout)),
            ("cpu", caps.cpu_count.to_string()),
            ("memory", format!("{} MB", caps.mem_size)),
            ("latency", format!("{} ms", caps.network_latency)),
            ("privileged", yes_no(caps.privileged)),
            ("volunteers", yes_no(caps.volunteers)),
        ],
    )
}
