//! Tests of `trace`.

use super::*;

const T0: i64 = 1_678_752_000; // 2023-03-14T00:00Z

fn at(points: &[IntensityPoint]) -> Vec<(i64, u32)> {
    points.iter().map(|p| (p.at - T0, p.intensity)).collect()
}

#[test]
fn uk_carbon_intensity_json_prefers_actual_over_forecast() {
    let json = r#"{"data":[
        {"from":"2023-03-14T00:30Z","to":"2023-03-14T01:00Z","intensity":{"forecast":150,"actual":null,"index":"moderate"}},
        {"from":"2023-03-14T00:00Z","to":"2023-03-14T00:30Z","intensity":{"forecast":140,"actual":133,"index":"low"}}]}"#;
    assert_eq!(
        at(&parse_trace(json).expect("parses")),
        [(0, 133), (1800, 150)]
    );
    let regional = r#"{"data":{"regionid":13,"shortname":"London","data":[
        {"from":"2023-03-14T00:00Z","to":"2023-03-14T00:30Z","intensity":{"forecast":93,"index":"low"}}]}}"#;
    assert_eq!(at(&parse_trace(regional).expect("parses")), [(0, 93)]);
}

#[test]
fn electricity_maps_and_carbon_aware_sdk_json_are_read() {
    let maps = r#"{"zone":"GB","history":[{"carbonIntensity":210.4,"datetime":"2023-03-14T01:00:00.000Z"}]}"#;
    assert_eq!(at(&parse_trace(maps).expect("parses")), [(3600, 210)]);
    let sdk = r#"[{"location":"uksouth","forecastData":[{"location":"uksouth","timestamp":"2023-03-14T00:05:00+00:00","duration":5,"value":99.6}]},
                  {"location":"uksouth","time":"2023-03-14T00:00:00Z","rating":120,"duration":"00:05:00"}]"#;
    assert_eq!(
        at(&parse_trace(sdk).expect("parses")),
        [(0, 120), (300, 100)]
    );
}

#[test]
fn csv_with_from_and_forecast_or_electricity_maps_headers_is_read() {
    let csv = "from,to,forecast\n2023-03-14T00:30Z,2023-03-14T01:00Z,53\n2023-03-14T00:00Z,2023-03-14T00:30Z,31\n";
    assert_eq!(
        at(&parse_trace(csv).expect("parses")),
        [(0, 31), (1800, 53)]
    );
    let maps = "Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct)\n2023-03-14 00:00:00,GB,Great Britain,GB,180.5\n";
    assert_eq!(at(&parse_trace(maps).expect("parses")), [(0, 181)]);
    let both = "from,forecast,actual\n2023-03-14T00:00Z,100,90\n2023-03-14T00:30Z,100,\n";
    assert_eq!(
        at(&parse_trace(both).expect("parses")),
        [(0, 90), (1800, 100)]
    );
}

#[test]
fn bad_traces_say_where() {
    assert_eq!(parse_trace("  "), Err(TraceError::Empty));
    assert_eq!(parse_trace("from,forecast\n"), Err(TraceError::Empty));
    assert!(matches!(
        parse_trace("{\"data\": ["),
        Err(TraceError::Json(_))
    ));
    assert!(matches!(
        parse_trace("when,forecast\n2023-03-14T00:00Z,1\n"),
        Err(TraceError::Header(_))
    ));
    assert!(matches!(
        parse_trace("from,forecast\n2023-03-14T00:00Z,1\nyesterday,2\n"),
        Err(TraceError::Row { line: 3, .. })
    ));
    assert!(matches!(
        parse_trace("from,forecast\n2023-03-14T00:00Z,-5\n"),
        Err(TraceError::Row { line: 2, .. })
    ));
    assert!(matches!(
        parse_trace(r#"{"data":[{"from":"2023-03-14T00:00Z","intensity":{"index":"low"}}]}"#),
        Err(TraceError::Point { index: 0, .. })
    ));
    assert_eq!(parse_trace(r#"{"data":[]}"#), Err(TraceError::Empty));
    let message = parse_trace("from,forecast\n2023-03-14T00:00Z,x\n")
        .err()
        .map(|error| error.to_string());
    assert_eq!(
        message.as_deref(),
        Some("line 2: intensity \"x\" is not a number from 0 to 100000")
    );
}

#[test]
fn times_parse_with_or_without_seconds_and_zones() {
    for text in [
        "2023-03-14T00:00Z",
        "2023-03-14T00:00:00Z",
        "2023-03-14T01:00+01:00",
        "2023-03-14 00:00:00",
        "2023-03-14T00:00:00.000Z",
    ] {
        assert_eq!(parse_time(text), Some(T0), "{text}");
    }
    assert_eq!(parse_time("14/03/2023"), None);
}
