//! What the dispatcher itself says about the sessions: the `canopy_connected_workers` gauge of
//! `GET /metrics` and the nodes `GET /v1/node/list` shows as connected.

use anyhow::Context;
use serde_json::Value;

/// The dispatcher's view, read after the idle period.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// `canopy_connected_workers`: sessions in this replica's registry.
    pub connected_workers: Option<u64>,
    /// `canopy_worker_connections_total`: sessions ever accepted (got past `hello`).
    pub connections_total: Option<u64>,
    /// `canopy_protocol_violations_total`.
    pub protocol_violations: Option<u64>,
    /// Nodes listed with `connected: true` (the database's view, refreshed every heartbeat).
    pub listed_connected: Option<usize>,
    pub listed_total: Option<usize>,
}

/// A sample's value in Prometheus text, by exact metric name.
fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (key, value) = line.split_once(' ')?;
            (key == name).then(|| value.trim().parse::<f64>().ok())?
        })
        .map(|value| value as u64)
}

/// Reads `/metrics`.
async fn metrics(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .context("while reading /metrics")?
        .error_for_status()
        .context("while reading /metrics")?
        .text()
        .await
        .context("while reading /metrics")?;
    Ok(text)
}

/// Counts the caller's nodes that the list shows as connected, and all of them.
async fn listed(
    client: &reqwest::Client,
    base: &str,
    access_token: &str,
) -> anyhow::Result<(usize, usize)> {
    let nodes: Vec<Value> = client
        .get(format!("{base}/v1/node/list"))
        .bearer_auth(access_token)
        .send()
        .await
        .context("while listing nodes")?
        .error_for_status()
        .context("while listing nodes")?
        .json()
        .await
        .context("while reading the node list")?;
    let connected = nodes
        .iter()
        .filter(|node| node["connected"].as_bool() == Some(true))
        .count();
    Ok((connected, nodes.len()))
}

/// Both views; a probe that fails is reported as missing, not fatal.
pub async fn view(client: &reqwest::Client, base: &str, access_token: &str) -> View {
    let mut view = View::default();
    match metrics(client, base).await {
        Ok(text) => {
            view.connected_workers = metric(&text, "canopy_connected_workers");
            view.connections_total = metric(&text, "canopy_worker_connections_total");
            view.protocol_violations = metric(&text, "canopy_protocol_violations_total");
        }
        Err(error) => println!("probe: {error:#}"),
    }
    match listed(client, base, access_token).await {
        Ok((connected, total)) => {
            view.listed_connected = Some(connected);
            view.listed_total = Some(total);
        }
        Err(error) => println!("probe: {error:#}"),
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauges_are_read_by_exact_name() {
        let text = "# TYPE canopy_connected_workers gauge\ncanopy_connected_workers 42\ncanopy_connected_workers_x 7\n";
        assert_eq!(metric(text, "canopy_connected_workers"), Some(42));
        assert_eq!(metric(text, "canopy_missing"), None);
    }
}
