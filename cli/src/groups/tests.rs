//! Tests of the argument parsers of `kzero groups`.

use super::*;

#[test]
fn rfc3339_times() {
    let check = |s: &str, ms: i64| assert_eq!(parse_datetime(s), Ok(ms), "{s}");
    check("1970-01-01T00:00:00Z", 0);
    check("2024-05-01T12:00:00Z", 1_714_564_800_000);
    check("2024-05-01t12:00:00z", 1_714_564_800_000);
    check("2024-05-01 12:00:00Z", 1_714_564_800_000);
    check("2024-05-01T14:00:00+02:00", 1_714_564_800_000);
    check("2024-05-01T07:30:00-04:30", 1_714_564_800_000);
    check("2024-05-01T12:00:00.5Z", 1_714_564_800_500);
    check("2024-05-01T12:00:00.123456789Z", 1_714_564_800_123);
    check("2024-02-29T00:00:00Z", 1_709_164_800_000);
    check("1969-12-31T23:59:59Z", -1000);
    check("2016-12-31T23:59:60Z", 1_483_228_799_000);
    for bad in [
        "2024-05-01",
        "2024-05-01T12:00:00",
        "2024-05-01T12:00Z",
        "2023-02-29T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-05-01T24:00:00Z",
        "2024-05-01T12:00:00.Z",
        "2024-05-01T12:00:00+0200",
        "2024-05-01T12:00:00Zjunk",
        "1714564800000",
        "2024-05-01T12:00:00+é:00",
    ] {
        assert!(parse_datetime(bad).unwrap_err().contains("RFC 3339"), "{bad}");
    }
}

#[test]
fn topic_partition_specs() {
    assert_eq!(parse_topic("t"), Ok(("t".to_string(), None)));
    assert_eq!(parse_topic("t:0,2"), Ok(("t".to_string(), Some(vec![0, 2]))));
    assert!(parse_topic(":1").is_err());
    assert!(parse_topic("t:x").is_err());
    assert!(parse_topic("t:-1").is_err());
    assert!(parse_topic("t:").is_err());
}
