//! Blank containers: a cold start takes one and gives it the function's code; a container that
//! held one function's code never serves another.

use super::fixture::*;

#[tokio::test]
async fn a_cold_start_takes_a_blank_container_and_it_never_serves_another_function() {
    let Some(f) = Fixture::with_blanks(1).await else {
        return;
    };
    let started = f.executor.fill_blanks().await;
    assert!(started >= 1, "a blank container per runtime with an image");
    let blanks = f.containers().await;

    let first = f
        .run_function("fa", "t1", "POST", "mode=echo", b"{}", LONG)
        .await;
    let (status, _, _, error) = response(&first);
    assert_eq!((status, error), (200, None));
    assert!(
        !first.timings.warm,
        "the first run of a version is a cold start"
    );
    let after_first = f.containers().await;
    assert_eq!(
        after_first.len(),
        blanks.len(),
        "no container was created: the blank one took the code"
    );

    // The pool is refilled; the next function takes the new blank container, not the first's.
    assert_eq!(f.executor.fill_blanks().await, 1);
    let second = f
        .run_function("fb", "t2", "POST", "mode=echo", b"{}", LONG)
        .await;
    assert_eq!(response(&second).0, 200);
    let warm_a = f
        .executor
        .pool()
        .checkout("fa@b1")
        .expect("fa's container is warm");
    let warm_b = f
        .executor
        .pool()
        .checkout("fb@b1")
        .expect("fb's container is warm");
    assert_ne!(warm_a.id, warm_b.id, "one container per function version");
    assert!(blanks.contains(&warm_a.id), "fa got a blank container");
    assert!(!blanks.contains(&warm_b.id), "fb got the refilled one");
    let _ = f.executor.pool().checkin(warm_a, std::time::Instant::now());
    let _ = f.executor.pool().checkin(warm_b, std::time::Instant::now());

    let again = f
        .run_function("fa", "t3", "POST", "mode=echo", b"{}", LONG)
        .await;
    assert!(again.timings.warm, "fa runs warm in its own container");
    f.cleanup().await;
}
