//! The response limit the worker shares with the dispatcher.

use canopy_shared::protocol::{Outcome, TaskRequest};

use super::*;
use crate::testutil::{HttpServer, Reply};

fn get() -> TaskRequest {
    TaskRequest {
        method: "GET".into(),
        query: String::new(),
        headers: vec![],
        content_type: None,
        body: String::new(),
    }
}

#[tokio::test]
async fn a_response_at_the_shared_limit_is_kept_and_one_byte_more_fails_the_task() {
    let http = runner_client().expect("client");
    let at_limit = HttpServer::start(|_| Reply::new(200, vec![b'a'; MAX_RESPONSE_BYTES])).await;
    match invoke(&http, at_limit.addr, &get()).await {
        Ok(Outcome::Response { status, body, .. }) => {
            assert_eq!(status, 200);
            assert_eq!(
                decode_body(&body).map(|b| b.len()).ok(),
                Some(MAX_RESPONSE_BYTES)
            );
        }
        other => panic!("expected the response, got {other:?}"),
    }
    let over = HttpServer::start(|_| Reply::new(200, vec![b'a'; MAX_RESPONSE_BYTES + 1])).await;
    let error = invoke(&http, over.addr, &get()).await.err();
    assert!(matches!(error, Some(InvokeError::TooLarge)), "{error:?}");
    assert!(InvokeError::TooLarge
        .to_string()
        .starts_with("RESPONSE_TOO_LARGE"));
}
