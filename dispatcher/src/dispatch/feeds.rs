//! Carbon intensity feeds this dispatcher polls for grid zones (`--carbon-feed ZONE=URL`): a node
//! whose worker names only its zone gets the zone's intensity and forecast from here. The URLs are
//! the operator's, never a worker's: a worker cannot make the dispatcher fetch arbitrary URLs.
//! A feed answers JSON in the UK Carbon Intensity API's shape (or any trace shape of
//! `canopy_shared::carbon`), e.g. `https://api.carbonintensity.org.uk/regional/intensity/{from}/fw48h/regionid/13`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use canopy_shared::carbon::{parse_trace, IntensityPoint};
use clap::Args;
use tokio_util::sync::CancellationToken;

use super::session::SessionHandle;
use crate::state::AppState;

/// Largest feed answer read, bytes.
const MAX_FEED_BYTES: usize = 4 * 1024 * 1024;

/// One polled zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneFeed {
    pub zone: String,
    pub url: String,
}

impl std::str::FromStr for ZoneFeed {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let (zone, url) = value
            .split_once('=')
            .ok_or_else(|| format!("{value:?} is not ZONE=URL"))?;
        let (zone, url) = (zone.trim(), url.trim());
        if zone.is_empty() || !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("{value:?} is not ZONE=URL with an http(s) URL"));
        }
        Ok(ZoneFeed {
            zone: zone.to_owned(),
            url: url.to_owned(),
        })
    }
}

/// Carbon-aware placement and deferral.
#[derive(Debug, Clone, Args)]
pub struct CarbonSettings {
    /// A grid zone's carbon intensity feed, `ZONE=URL` (repeat, or comma-separate in the
    /// variable); nodes that name the zone (`--carbon-zone`) get its intensity and forecast.
    #[arg(
        long = "carbon-feed",
        env = "CANOPY_CARBON_FEEDS",
        value_delimiter = ','
    )]
    pub feeds: Vec<ZoneFeed>,

    /// How often the feeds are polled, seconds.
    #[arg(long = "carbon-poll-s", env = "CANOPY_CARBON_POLL_S", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub poll_s: u64,

    /// Margin a deferred task keeps before its deadline on top of its function's timeout, s.
    #[arg(
        long = "defer-slack-s",
        env = "CANOPY_DEFER_SLACK_S",
        default_value_t = 30
    )]
    pub defer_slack_s: u32,

    /// A deferrable task waits only for a window at least this much greener than now, percent.
    #[arg(long = "defer-min-gain-percent", env = "CANOPY_DEFER_MIN_GAIN_PERCENT", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(0..=100))]
    pub defer_min_gain_percent: u32,
}

/// The latest points of each polled zone.
#[derive(Debug, Default)]
pub struct CarbonFeeds {
    zones: RwLock<HashMap<String, Arc<Vec<IntensityPoint>>>>,
}

impl CarbonFeeds {
    /// Gives a session its zone's feed, if this dispatcher polls that zone.
    pub fn apply(&self, session: &SessionHandle) {
        let Some(zone) = session.carbon_zone() else {
            return;
        };
        let points = self
            .zones
            .read()
            .ok()
            .and_then(|zones| zones.get(&zone).cloned());
        if let Some(points) = points {
            session.set_carbon_feed(&points);
        }
    }

    /// New points for a zone.
    pub fn set(&self, zone: &str, points: Vec<IntensityPoint>) {
        if let Ok(mut zones) = self.zones.write() {
            zones.insert(zone.to_owned(), Arc::new(points));
        }
    }

    /// The points of a zone, if polled.
    pub fn get(&self, zone: &str) -> Option<Arc<Vec<IntensityPoint>>> {
        self.zones.read().ok()?.get(zone).cloned()
    }
}

/// Starts the poller when feeds are configured.
pub fn spawn(state: &Arc<AppState>, shutdown: &CancellationToken) {
    if state.dispatch.carbon.feeds.is_empty() {
        return;
    }
    let (state, shutdown) = (Arc::clone(state), shutdown.clone());
    tokio::spawn(async move {
        let every = Duration::from_secs(state.dispatch.carbon.poll_s);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap_or_default();
        loop {
            poll_once(&state, &client).await;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    });
}

/// Polls every feed once and hands the new points to the sessions in their zones; returns how
/// many feeds answered. A feed that fails keeps its last points (logged once per poll).
pub async fn poll_once(state: &AppState, client: &reqwest::Client) -> usize {
    let mut answered = 0;
    for feed in &state.dispatch.carbon.feeds {
        match fetch(client, &feed.url).await {
            Ok(points) => {
                answered += 1;
                state.carbon_feeds.set(&feed.zone, points);
            }
            Err(error) => {
                tracing::warn!(zone = %feed.zone, error = %error, "carbon feed poll failed");
            }
        }
    }
    for session in state.registry.snapshot() {
        state.carbon_feeds.apply(&session);
    }
    if answered > 0 {
        state.scheduler.wake();
    }
    answered
}

async fn fetch(client: &reqwest::Client, url: &str) -> anyhow::Result<Vec<IntensityPoint>> {
    let response = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await?
        .error_for_status()?;
    anyhow::ensure!(
        response
            .content_length()
            .is_none_or(|length| length <= MAX_FEED_BYTES as u64),
        "answer larger than 4 MiB"
    );
    let body = response.bytes().await?;
    anyhow::ensure!(body.len() <= MAX_FEED_BYTES, "answer larger than 4 MiB");
    let text = std::str::from_utf8(&body)?;
    Ok(parse_trace(text)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_is_zone_equals_an_http_url() {
        assert_eq!(
            "GB-13=https://example.test/x?a=b".parse::<ZoneFeed>(),
            Ok(ZoneFeed {
                zone: "GB-13".into(),
                url: "https://example.test/x?a=b".into()
            })
        );
        assert!("GB-13".parse::<ZoneFeed>().is_err());
        assert!("=https://x".parse::<ZoneFeed>().is_err());
        assert!("GB=file:///etc/passwd".parse::<ZoneFeed>().is_err());
    }
}
