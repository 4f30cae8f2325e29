//! Tests of `policy`.

use canopy_shared::carbon::IntensityPoint;

use super::*;

fn offer(warm: bool, intensity: Option<u32>, latency_ms: Option<u32>, credits: u32) -> Offer {
    Offer {
        warm,
        intensity,
        latency_ms,
        credits,
    }
}

#[test]
fn warm_beats_green() {
    let offers = [
        offer(false, Some(10), Some(1), 8),
        offer(true, Some(400), Some(90), 1),
    ];
    assert_eq!(order(&offers, false), [1, 0]);
    assert_eq!(order(&offers, true), [1, 0]);
}

#[test]
fn greener_comes_next_and_unknown_intensity_ranks_last() {
    let offers = [
        offer(false, None, Some(1), 9),
        offer(false, Some(300), Some(50), 1),
        offer(false, Some(40), Some(80), 1),
        offer(false, Some(0), None, 1),
    ];
    assert_eq!(order(&offers, false), [3, 2, 1, 0]);
    assert_eq!(order(&offers, true), [3, 2, 1, 0], "carbon before latency");
}

#[test]
fn latency_in_a_hurry_then_credits_break_ties() {
    let offers = [
        offer(false, Some(100), Some(40), 9),
        offer(false, Some(100), Some(3), 1),
        offer(false, Some(100), None, 5),
    ];
    assert_eq!(order(&offers, false), [0, 2, 1], "most credits");
    assert_eq!(order(&offers, true), [1, 0, 2], "nearest, unmeasured last");
}

const NOW: i64 = 1_000_000;

fn trace(points: &[(i64, u32)]) -> Forecast {
    Forecast::new(
        points
            .iter()
            .map(|&(offset, intensity)| IntensityPoint {
                at: NOW + offset,
                intensity,
            })
            .collect(),
    )
}

fn request(deadline_in: i64) -> DeferralRequest {
    DeferralRequest {
        now: NOW,
        deadline: NOW + deadline_in,
        run_s: 120,
        slack_s: 60,
        min_gain_percent: 10,
        now_intensity: None,
    }
}

fn one(forecast: &Forecast) -> [NodeForecast<'_>; 1] {
    [NodeForecast { forecast, slots: 1 }]
}

const NONE_BOOKED: &dyn Fn(i64) -> u32 = &|_| 0;

fn wait(until: i64, window: i64, expected: u32, current: u32) -> Deferral {
    Deferral::Wait {
        until: NOW + until,
        window: NOW + window,
        expected,
        current,
    }
}

#[test]
fn a_task_waits_for_the_greenest_window_before_its_latest_start() {
    let dirty_then_clean = trace(&[(0, 300), (1800, 200), (3600, 50), (5400, 20)]);
    let nodes = one(&dirty_then_clean);
    assert_eq!(
        defer(&request(4 * 3600), &nodes, NONE_BOOKED),
        wait(5400, 5400, 20, 300)
    );
    // Latest start is 3600 + 1 s: the 20 g window is out of reach, the 50 g one is not.
    assert_eq!(
        defer(&request(3600 + 181), &nodes, NONE_BOOKED),
        wait(3600, 3600, 50, 300)
    );
}

#[test]
fn the_deadline_always_wins() {
    let later_clean = trace(&[(0, 300), (3600, 10)]);
    let nodes = one(&later_clean);
    for deadline_in in [3600, 180, -5] {
        assert_eq!(
            defer(&request(deadline_in), &nodes, NONE_BOOKED),
            Deferral::RunNow
        );
    }
    // The clean window is full for rounds that would start after the latest start.
    let full_until_late: &dyn Fn(i64) -> u32 = &|_| 10;
    assert_eq!(
        defer(&request(3600 + 120 + 60 + 9 * 120), &nodes, full_until_late),
        Deferral::RunNow
    );
    assert_eq!(
        defer(
            &request(3600 + 120 + 60 + 10 * 120),
            &nodes,
            full_until_late
        ),
        wait(3600 + 10 * 120, 3600, 10, 300)
    );
}

#[test]
fn the_greenest_worker_counts_at_each_instant() {
    let dirty = trace(&[(0, 400), (1800, 10)]);
    let clean_now = Forecast::constant(30);
    let nodes = [
        NodeForecast {
            forecast: &dirty,
            slots: 1,
        },
        NodeForecast {
            forecast: &clean_now,
            slots: 1,
        },
    ];
    assert_eq!(
        defer(&request(3 * 3600), &nodes, NONE_BOOKED),
        wait(1800, 1800, 10, 30)
    );
    let cleanest_now = Forecast::constant(5);
    let nodes = [
        nodes[0],
        NodeForecast {
            forecast: &cleanest_now,
            slots: 1,
        },
    ];
    assert_eq!(
        defer(&request(3 * 3600), &nodes, NONE_BOOKED),
        Deferral::RunNow
    );
}

#[test]
fn held_tasks_fill_a_window_in_rounds_then_spill_to_the_next_greenest() {
    // One slot, 120 s runs: the 10 g half hour seats 15 tasks, one every 120 s.
    let dip = trace(&[(0, 300), (1800, 10), (3600, 40), (5400, 300)]);
    let nodes = one(&dip);
    let request = request(4 * 3600);
    let booked = |count: u32| move |window: i64| if window == NOW + 1800 { count } else { 0 };
    assert_eq!(
        defer(&request, &nodes, &booked(0)),
        wait(1800, 1800, 10, 300)
    );
    assert_eq!(
        defer(&request, &nodes, &booked(3)),
        wait(1800 + 3 * 120, 1800, 10, 300)
    );
    assert_eq!(
        defer(&request, &nodes, &booked(15)),
        wait(3600, 3600, 40, 300)
    );
}

#[test]
fn a_busy_green_worker_does_not_count_as_running_now() {
    let dirty_then_clean = trace(&[(0, 300), (1800, 100)]);
    let green = Forecast::constant(90);
    let nodes = [
        NodeForecast {
            forecast: &dirty_then_clean,
            slots: 1,
        },
        NodeForecast {
            forecast: &green,
            slots: 1,
        },
    ];
    assert_eq!(
        defer(&request(3 * 3600), &nodes, NONE_BOOKED),
        Deferral::RunNow,
        "the 90 g worker is the greenest now and later"
    );
    let busy = DeferralRequest {
        now_intensity: Some(300),
        ..request(3 * 3600)
    };
    assert_eq!(defer(&busy, &nodes, NONE_BOOKED), wait(1800, 1800, 90, 300));
}

#[test]
fn small_gains_and_missing_forecasts_run_now() {
    let flat = trace(&[(0, 100), (1800, 95)]);
    assert_eq!(
        defer(&request(3 * 3600), &one(&flat), NONE_BOOKED),
        Deferral::RunNow
    );
    assert_eq!(
        defer(&request(3 * 3600), &[], NONE_BOOKED),
        Deferral::RunNow
    );
    let future_only = trace(&[(600, 10)]);
    assert_eq!(
        defer(&request(3 * 3600), &one(&future_only), NONE_BOOKED),
        Deferral::RunNow,
        "no intensity known now to compare with"
    );
}
