//! The no-op executor behind the real supervisor, against the fake dispatcher.

use canopy_shared::protocol::decode_body;

use super::*;
use crate::executor::noop::{NoopRunner, NOOP_BODY};

#[tokio::test]
async fn a_noop_worker_runs_the_whole_protocol_without_docker() {
    let dispatcher = FakeDispatcher::start().await;
    let runner = Arc::new(NoopRunner::new(Duration::from_millis(20)));
    let worker = start_worker_with(vec![dispatcher.url()], TOKEN, runner);
    let mut socket = dispatcher.accept().await.expect("connection");
    let hello = handshake(&mut socket).await;
    assert!(hello.warm_functions.is_empty());
    assert_eq!(
        recv_event(&mut socket).await,
        WorkerMessage::Pull { credits: 2 }
    );
    send(&mut socket, assign("t1")).await;
    send(&mut socket, assign("t2")).await;
    let (mut started, mut results, mut credits) = (vec![], vec![], 0);
    while results.len() < 2 || credits < 2 {
        match recv_event(&mut socket).await {
            WorkerMessage::Started { task_id, .. } => started.push(task_id),
            WorkerMessage::Result(result) => {
                credits += u32::from(result.regrant);
                results.push(result);
            }
            WorkerMessage::Pull { credits: more } => credits += more,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(started, ["t1", "t2"]);
    results.sort_by(|a, b| a.task_id.cmp(&b.task_id));
    for (result, task) in results.iter().zip(["t1", "t2"]) {
        assert_eq!((result.task_id.as_str(), result.attempt), (task, 1));
        let Outcome::Response {
            status,
            content_type,
            body,
            error: None,
        } = &result.outcome
        else {
            panic!("a response, got {:?}", result.outcome)
        };
        assert_eq!(*status, 200);
        assert_eq!(content_type.as_deref(), Some("text/plain"));
        assert_eq!(decode_body(body).ok().as_deref(), Some(NOOP_BODY));
        assert!(result.timings.warm && result.timings.exec_ms >= 20);
    }
    worker.shutdown.cancel();
    assert!(matches!(
        recv_event(&mut socket).await,
        WorkerMessage::Goodbye { .. }
    ));
    worker.handle.await.expect("joined").expect("clean exit");
}

#[tokio::test]
async fn a_noop_task_cancelled_by_the_dispatcher_sends_no_result() {
    let dispatcher = FakeDispatcher::start().await;
    let runner = Arc::new(NoopRunner::new(Duration::from_secs(60)));
    let worker = start_worker_with(vec![dispatcher.url()], TOKEN, runner);
    let mut socket = dispatcher.accept().await.expect("connection");
    handshake(&mut socket).await;
    recv_event(&mut socket).await;
    send(&mut socket, assign("t1")).await;
    assert!(matches!(
        recv_event(&mut socket).await,
        WorkerMessage::Started { .. }
    ));
    send(
        &mut socket,
        DispatcherMessage::Cancel {
            task_id: "t1".into(),
            attempt: 1,
        },
    )
    .await;
    assert_eq!(
        recv_event(&mut socket).await,
        WorkerMessage::Pull { credits: 1 },
        "the slot comes back at once, without a result"
    );
    worker.shutdown.cancel();
    assert!(matches!(
        recv_event(&mut socket).await,
        WorkerMessage::Goodbye { .. }
    ));
    worker.handle.await.expect("joined").expect("clean exit");
}
