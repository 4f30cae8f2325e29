//! The host-side firewall rule of the function network (`docs/runtime-contract.md`, "Networking
//! (verified)"): containers on the bridge `canopy0` must not open connections to the host's own
//! services (dispatcher, Postgres, …). Replies to the host's connections stay allowed.

use tokio::process::Command;

/// Fixed bridge interface name of the function network; the rule matches on it.
pub const BRIDGE_NAME: &str = "canopy0";

/// The rule, as `iptables` arguments after `-C`/`-I`.
fn rule() -> [&'static str; 9] {
    [
        "INPUT",
        "-i",
        BRIDGE_NAME,
        "-m",
        "conntrack",
        "--ctstate",
        "NEW",
        "-j",
        "DROP",
    ]
}

/// Why the rule could not be checked or added.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} the iptables rule blocking containers from host services: {message}")]
pub struct FirewallError {
    action: &'static str,
    message: String,
}

async fn iptables(flag: &str) -> Result<bool, FirewallError> {
    let output = Command::new("iptables")
        .arg(flag)
        .args(rule())
        .output()
        .await
        .map_err(|e| FirewallError {
            action: "run",
            message: format!("iptables: {e}"),
        })?;
    if output.status.success() {
        return Ok(true);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    // `-C` exits 1 with "Bad rule" / "does a matching rule exist" when the rule is absent.
    if flag == "-C" && output.status.code() == Some(1) {
        return Ok(false);
    }
    Err(FirewallError {
        action: if flag == "-C" { "check" } else { "add" },
        message: stderr.trim().to_owned(),
    })
}

/// Whether the rule is in place.
pub async fn rule_present() -> Result<bool, FirewallError> {
    iptables("-C").await
}

/// Adds the rule unless it is there (idempotent; needs root or `CAP_NET_ADMIN`).
pub async fn ensure_rule() -> Result<(), FirewallError> {
    if rule_present().await? {
        return Ok(());
    }
    iptables("-I").await.map(|_| ())
}

/// The command an operator runs to add the rule by hand.
pub fn manual_fix() -> String {
    format!("run as root: iptables -I {}", rule().join(" "))
}
