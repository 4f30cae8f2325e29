//! Custom images against the fake engine: the pinned id is what containers start from, a new
//! pin is reported once, a moved tag is refused, and a node that does not allow them refuses.

use canopy_shared::image::{CustomImage, ImagePin};

use super::*;

const FIRST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const SECOND: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn custom(h: &Harness, task: &str, pin: Option<&str>) -> Assignment {
    let mut a = assignment(h, task, "f", "");
    a.function.image = Some(CustomImage {
        reference: "team/echo:1".into(),
        pin: pin.map(str::to_owned),
    });
    a
}

fn tag(h: &Harness, reference: &str, id: &str) {
    h.engine
        .images
        .lock()
        .expect("lock")
        .insert(reference.into(), id.into());
}

#[tokio::test]
async fn an_unpinned_image_starts_from_its_local_id_and_reports_the_pin_once() {
    let h = harness().await;
    tag(&h, "team/echo:1", FIRST);
    let result = run(&h, &custom(&h, "t1", None)).await;
    assert!(
        matches!(result.outcome, Outcome::Response { status: 200, .. }),
        "{:?}",
        result.outcome
    );
    assert_eq!(
        result.image_pin,
        Some(ImagePin {
            reference: "team/echo:1".into(),
            id: FIRST.into()
        })
    );
    let spec = &h.engine.created()[0];
    assert_eq!(
        spec.image, FIRST,
        "the container starts from the id, not the tag"
    );
    let body = docker::container_body(spec);
    assert_eq!(body.user.as_deref(), Some("65534:65534"));
    assert_eq!(body.host_config.expect("host").readonly_rootfs, Some(true));
    // Pinned now: the same container serves the next task, and no pin is reported again.
    let second = run(&h, &custom(&h, "t2", Some(FIRST))).await;
    assert!(second.timings.warm);
    assert_eq!(second.image_pin, None);
}

#[tokio::test]
async fn a_tag_that_moved_away_from_the_pin_is_refused_naming_both_ids() {
    let h = harness().await;
    tag(&h, "team/echo:1", SECOND);
    let result = run(&h, &custom(&h, "t1", Some(FIRST))).await;
    let Outcome::Failed { message, retryable } = &result.outcome else {
        panic!("unexpected {:?}", result.outcome);
    };
    assert!(!retryable, "every attempt would meet the same tag");
    assert!(
        message.contains(FIRST) && message.contains(SECOND),
        "{message}"
    );
    assert!(h.engine.created().is_empty());
}

#[tokio::test]
async fn an_image_the_node_lacks_and_cannot_pull_fails_retryably() {
    let h = harness().await;
    let result = run(&h, &custom(&h, "t1", None)).await;
    let Outcome::Failed { message, retryable } = &result.outcome else {
        panic!("unexpected {:?}", result.outcome);
    };
    assert!(retryable, "another node may have it");
    assert!(message.contains("could not be pulled"), "{message}");
}

#[tokio::test]
async fn a_node_that_does_not_allow_custom_images_refuses_them() {
    let mut h = harness().await;
    h.executor.settings.allow_custom_images = false;
    tag(&h, "team/echo:1", FIRST);
    let result = run(&h, &custom(&h, "t1", None)).await;
    let Outcome::Failed { message, .. } = &result.outcome else {
        panic!("unexpected {:?}", result.outcome);
    };
    assert!(message.contains("--allow-custom-images"), "{message}");
    assert!(h.engine.created().is_empty());
}
