//! Builds the HTTP application from settings and a pool. Tests build the same app on port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_http::HttpService;
use actix_service::{fn_service, map_config, ServiceFactory};
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Server, ServiceRequest, ServiceResponse};
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::auth::jwt::TokenKeys;
use crate::auth::mailer::Mailer;
use crate::auth::secret;
use crate::db;
use crate::dispatch::listener;
use crate::error::ApiError;
use crate::routes;
use crate::settings::Settings;
use crate::state::AppState;
use crate::tasks;
use crate::telemetry::root_span::RootSpan;

/// A bound, not yet running, HTTP server.
pub struct Application {
    server: Server,
    port: u16,
    /// The Serverledge facade on its own port (`--serverledge-listen`), with that port.
    facade: Option<(Server, u16)>,
    state: Arc<AppState>,
    shutdown: CancellationToken,
}

impl Application {
    /// Binds the listen address and builds the app around `pool`.
    pub async fn build(settings: &Settings, pool: PgPool) -> anyhow::Result<Self> {
        let (state, queues) = build_state(settings, pool).await?;
        let state = Arc::new(state);
        tasks::requeue::register_replica(&state)
            .await
            .context("while registering this replica")?;
        state
            .revocations
            .reload(&state.pool, state.tokens.ttl_s())
            .await
            .context("while reading revoked sessions")?;
        let shutdown = CancellationToken::new();
        tasks::spawn_loops(&state, queues, &shutdown);
        crate::triggers::spawn(&state, settings.triggers.clone(), &shutdown);
        crate::schedules::spawn(&state, settings.schedules.clone(), &shutdown);
        crate::history::spawn(&state, settings.history.clone(), &shutdown);
        crate::dispatch::feeds::spawn(&state, &shutdown);
        crate::compiles::spawn(&state, &shutdown);
        tokio::spawn(listener::run(Arc::clone(&state), shutdown.clone()));
        tokio::spawn(listener::reload_revocations_periodically(
            Arc::clone(&state),
            shutdown.clone(),
        ));
        let data = web::Data::from(Arc::clone(&state));
        let facade = web::Data::new(settings.serverledge.clone());
        let public = web::Data::new(crate::endpoints::Public::new(settings.endpoints.clone()));
        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("while binding {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let workers = if settings.http_workers == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            settings.http_workers
        };
        let server = api_server(listener, workers, &state, move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(
                    crate::telemetry::access::log_request,
                ))
                .wrap(tracing_actix_web::TracingLogger::<RootSpan>::new())
                .app_data(data.clone())
                .app_data(facade.clone())
                .app_data(public.clone())
                .app_data(web::QueryConfig::default().error_handler(|error, _| {
                    ApiError::bad_request(
                        "INVALID_QUERY",
                        format!("the query string is invalid: {error}"),
                    )
                    .into()
                }))
                .app_data(web::PathConfig::default().error_handler(|error, _| {
                    ApiError::bad_request("INVALID_PATH", format!("the path is invalid: {error}"))
                        .into()
                }))
                .configure(routes::configure)
        })?;
        let facade = match settings.serverledge.serverledge_listen {
            Some(address) => Some(serverledge_server(
                address,
                web::Data::from(Arc::clone(&state)),
                web::Data::new(settings.serverledge.clone()),
            )?),
            None => None,
        };
        Ok(Application {
            server,
            port,
            facade,
            state,
            shutdown,
        })
    }

    /// The port of the Serverledge facade's own listener, when there is one.
    pub fn serverledge_port(&self) -> Option<u16> {
        self.facade.as_ref().map(|(_, port)| *port)
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that stops the server gracefully.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// The application state (tests step the loops with it).
    pub fn state(&self) -> Arc<AppState> {
        Arc::clone(&self.state)
    }

    /// Serves until stopped, then stops the background loops.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let facade = self.facade.map(|(server, _)| {
            let handle = server.handle();
            tokio::spawn(server);
            handle
        });
        let outcome = self.server.await;
        if let Some(facade) = facade {
            facade.stop(true).await;
        }
        self.shutdown.cancel();
        outcome
    }
}

/// The API's listener: actix-web's `HttpServer` with the same defaults, plus actix-http's
/// upgrade hook, so a worker's WebSocket leaves the HTTP dispatcher (and its buffers) at the
/// upgrade and its session owns the socket (`gateway::upgrade`).
fn api_server<F, A, B>(
    listener: TcpListener,
    workers: usize,
    state: &Arc<AppState>,
    app: F,
) -> anyhow::Result<Server>
where
    F: Fn() -> App<A> + Send + Clone + 'static,
    A: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let address = listener.local_addr()?;
    let builder = actix_server::Server::build();
    let shutdown = builder.graceful_shutdown_signal();
    let state = Arc::clone(state);
    let server = builder
        .workers(workers)
        .disable_signals()
        .listen("canopy-api", listener, move || {
            let shutdown = shutdown.clone();
            let state = Arc::clone(&state);
            HttpService::build()
                .graceful_shutdown_signal(move || {
                    let shutdown = shutdown.clone();
                    async move { shutdown.notified().await }
                })
                .client_request_timeout(Duration::from_secs(5))
                .client_disconnect_timeout(Duration::from_secs(1))
                .h1_allow_half_closed(true)
                .local_addr(address)
                .upgrade(fn_service(move |upgrade| {
                    crate::gateway::upgrade::serve(Arc::clone(&state), upgrade)
                }))
                .finish(map_config(app(), |_| AppConfig::default()))
                .tcp()
        })?
        .run();
    Ok(server)
}

/// A second listener serving only the Serverledge facade at its root, as a Serverledge node on
/// its port (1323) does, so unchanged clients need only the host changed.
fn serverledge_server(
    address: std::net::SocketAddr,
    data: web::Data<AppState>,
    facade: web::Data<crate::serverledge::ServerledgeSettings>,
) -> anyhow::Result<(Server, u16)> {
    let listener = TcpListener::bind(address)
        .with_context(|| format!("while binding the Serverledge listener {address}"))?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(tracing_actix_web::TracingLogger::<RootSpan>::new())
            .app_data(data.clone())
            .app_data(facade.clone())
            .configure(crate::serverledge::configure)
            .default_service(web::to(crate::serverledge::not_found))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok((server, port))
}

async fn build_state(
    settings: &Settings,
    pool: PgPool,
) -> anyhow::Result<(AppState, tasks::Queues)> {
    let signing_key = match &settings.auth.jwt_secret {
        Some(secret) => secret.expose().as_bytes().to_vec(),
        None => {
            let mut conn = pool.acquire().await?;
            db::secrets::load_or_create(&mut conn, "jwt_signing_key", &secret::random_bytes(64))
                .await?
        }
    };
    let (state, queues) = AppState::new(
        pool,
        TokenKeys::new(&signing_key, settings.auth.access_token_ttl_s),
        Mailer::from_settings(settings.smtp.settings().as_ref())?,
        settings.auth.clone(),
        settings.dispatch.clone(),
    );
    Ok((
        state.with_quota_defaults(settings.quotas.defaults()),
        queues,
    ))
}
