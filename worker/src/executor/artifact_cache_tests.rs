use std::time::Duration;

use super::*;

fn cached(sha256: &str, bytes: u64, age_s: u64) -> Cached {
    Cached {
        sha256: sha256.to_owned(),
        bytes,
        last_used: SystemTime::UNIX_EPOCH + Duration::from_secs(1_000 - age_s),
    }
}

fn shas(evicted: Vec<Cached>) -> Vec<String> {
    evicted.into_iter().map(|entry| entry.sha256).collect()
}

#[test]
fn nothing_is_evicted_within_the_budget() {
    let all = vec![cached("a", 10, 5), cached("b", 10, 1)];
    assert!(to_evict(all, 20, &|_| false).is_empty());
}

#[test]
fn the_least_recently_used_go_first_until_the_rest_fits() {
    let all = vec![
        cached("new", 10, 1),
        cached("oldest", 10, 9),
        cached("old", 10, 5),
    ];
    assert_eq!(shas(to_evict(all.clone(), 20, &|_| false)), ["oldest"]);
    assert_eq!(shas(to_evict(all, 10, &|_| false)), ["oldest", "old"]);
}

#[test]
fn a_package_in_use_is_never_evicted_even_over_budget() {
    let all = vec![cached("held", 10, 9), cached("free", 10, 1)];
    assert_eq!(
        shas(to_evict(all.clone(), 10, &|sha| sha == "held")),
        ["free"]
    );
    assert!(to_evict(all, 0, &|_| true).is_empty());
}

#[test]
fn a_lease_holds_until_its_last_clone_is_dropped() {
    let usage = Arc::new(Usage::default());
    let lease = usage.lease("a");
    let copy = lease.clone();
    let second = usage.lease("a");
    drop(lease);
    drop(second);
    assert!(usage.in_use("a"), "a clone still holds it");
    drop(copy);
    assert!(!usage.in_use("a"));
    assert!(usage.last_used("a").is_some());
}

#[test]
fn a_leased_package_is_not_removed_and_an_unleased_one_is() {
    let usage = Arc::new(Usage::default());
    let lease = usage.lease("a");
    let mut removed = Vec::new();
    assert!(!usage
        .remove_unless_leased("a", || {
            removed.push("a");
            Ok(())
        })
        .expect("no error"));
    drop(lease);
    assert!(usage
        .remove_unless_leased("a", || {
            removed.push("a");
            Ok(())
        })
        .expect("no error"));
    assert_eq!(removed, ["a"]);
}
