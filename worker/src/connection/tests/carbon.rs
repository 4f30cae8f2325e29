//! The node's carbon report: in `hello`, then an `energy` message when the trace moves on.

use canopy_shared::carbon::{Forecast, IntensityPoint};

use super::*;
use crate::carbon::{unix_now, CarbonConfig, CarbonSource};

#[tokio::test]
async fn hello_carries_the_trace_and_an_energy_message_follows_its_next_point() {
    let dispatcher = FakeDispatcher::start().await;
    let now = unix_now();
    let point = |at: i64, intensity: u32| IntensityPoint { at, intensity };
    let carbon = CarbonConfig {
        source: CarbonSource::Trace(Forecast::new(vec![
            point(now - 10, 300),
            // Far enough ahead that a loaded machine still says hello before it.
            point(now + 4, 40),
            point(now + 1801, 40),
        ])),
        zone: Some("GB-13".into()),
        renewable_only: false,
        renewable_threshold: None,
    };
    let settings = ConnectionSettings {
        dispatchers: vec![dispatcher.url()],
        node_token: Secret::new(TOKEN),
        shutdown_grace: Duration::from_secs(5),
        backoff: Backoff::new(Duration::from_millis(20), Duration::from_millis(100)),
        unauthorized_retry: Duration::from_millis(100),
        welcome_timeout: WAIT,
    };
    let (_host_tx, host_rx) = watch::channel(crate::host::HostSampler::new().sample());
    let shutdown = CancellationToken::new();
    let runner = Arc::new(FakeRunner {
        delay: Duration::from_millis(10),
        ran: Mutex::new(vec![]),
    });
    let supervisor = Supervisor::new(
        settings,
        "node-1".into(),
        resources(),
        runner,
        host_rx,
        shutdown.clone(),
    )
    .with_carbon(carbon);
    let handle = tokio::spawn(supervisor.run());
    let mut socket = dispatcher.accept().await.expect("connection");
    let hello = handshake(&mut socket).await;
    let energy = hello.resources.energy.expect("energy in hello");
    assert_eq!(energy.carbon_intensity, Some(300));
    assert_eq!(energy.zone.as_deref(), Some("GB-13"));
    assert_eq!(energy.forecast.len(), 3);
    let update = loop {
        match recv(&mut socket).await {
            WorkerMessage::Energy(energy) => break energy,
            WorkerMessage::Heartbeat(_) | WorkerMessage::Pull { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(update.carbon_intensity, Some(40));
    assert_eq!(update.forecast.first().map(|p| p.at), Some(now + 4));
    shutdown.cancel();
    handle.await.expect("joined").expect("clean exit");
}
