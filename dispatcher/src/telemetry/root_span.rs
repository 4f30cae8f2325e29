//! The request span of tracing-actix-web, built only when something records it. Its default
//! builder works out the route pattern first (a second routing pass: a regex match per dynamic
//! route tried), which was 4 % of the dispatcher's CPU at 64 clients with the span filtered out
//! (`--log-format short`, `RUST_LOG=warn`).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::Error;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

/// Where tracing-actix-web's request span comes from, for filters (`tracing_actix_web=off`).
const TARGET: &str = "tracing_actix_web::root_span_builder";

pub struct RootSpan;

impl RootSpanBuilder for RootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        if tracing::enabled!(target: TARGET, tracing::Level::INFO) {
            DefaultRootSpanBuilder::on_request_start(request)
        } else {
            Span::none()
        }
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        if !span.is_none() {
            DefaultRootSpanBuilder::on_request_end(span, outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::{test, web, App, HttpResponse};
    use tracing_actix_web::TracingLogger;
    use tracing_subscriber::EnvFilter;

    use super::*;

    /// Whether a handler behind the middleware runs inside a request span under `filter`.
    async fn in_a_span_under(filter: &str) -> bool {
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(filter))
            .with_writer(std::io::sink)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let app = test::init_service(App::new().wrap(TracingLogger::<RootSpan>::new()).route(
            "/v1/task/{id}",
            web::get().to(|| async {
                HttpResponse::Ok().body(if Span::current().is_none() {
                    "no"
                } else {
                    "yes"
                })
            }),
        ))
        .await;
        let request = test::TestRequest::get().uri("/v1/task/abc").to_request();
        test::call_and_read_body(&app, request).await == "yes"
    }

    #[actix_web::test]
    async fn the_request_span_is_kept_when_enabled_and_skipped_when_filtered_out() {
        assert!(in_a_span_under("info").await);
        assert!(!in_a_span_under("info,tracing_actix_web=off").await);
        assert!(!in_a_span_under("warn").await);
    }
}
