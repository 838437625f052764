//! Unit tests of the leader-epoch cache rules and of the checkpoint text.

use super::{Assigned, EpochCache};

fn cache(entries: &[(i32, i64)]) -> EpochCache {
    let mut c = EpochCache::new();
    for &(epoch, offset) in entries {
        assert_eq!(c.assign(epoch, offset), Assigned::New, "building {entries:?}");
    }
    c
}

/// `endOffsetFor(requested)` on `entries` with the log end offset `leo` gives `expected`.
fn check_end_offset(entries: &[(i32, i64)], leo: i64, requested: i32, expected: Option<(i32, i64)>) {
    assert_eq!(
        cache(entries).end_offset_for(requested, leo),
        expected,
        "entries {entries:?}, log end {leo}, requested epoch {requested}"
    );
}

/// Kafka's `LeaderEpochFileCache.endOffsetFor`, case by case.
#[test]
fn end_offset_for_follows_kafkas_rules() {
    let entries = [(1, 0), (3, 100), (5, 250)];
    let leo = 400;
    // The latest epoch ends at the log end.
    check_end_offset(&entries, leo, 5, Some((5, 400)));
    // A cached epoch ends where the next one starts.
    check_end_offset(&entries, leo, 1, Some((1, 100)));
    check_end_offset(&entries, leo, 3, Some((3, 250)));
    // An epoch between two cached ones: the largest cached epoch below it, and the next one's start.
    check_end_offset(&entries, leo, 2, Some((1, 100)));
    check_end_offset(&entries, leo, 4, Some((3, 250)));
    // Below every cached epoch: the requested epoch itself (not UNDEFINED) and the first start offset.
    check_end_offset(&entries, leo, 0, Some((0, 0)));
    check_end_offset(&[(4, 70), (6, 90)], 100, 2, Some((2, 70)));
    // Above the latest epoch: UNDEFINED.
    check_end_offset(&entries, leo, 6, None);
    check_end_offset(&entries, leo, i32::MAX, None);
    // UNDEFINED_EPOCH is answered with UNDEFINED, whatever the cache holds.
    check_end_offset(&entries, leo, -1, None);
    // An empty cache knows nothing.
    check_end_offset(&[], 0, 0, None);
    check_end_offset(&[], 10, 3, None);
    check_end_offset(&[], 10, -1, None);
    // A single epoch.
    check_end_offset(&[(2, 0)], 10, 2, Some((2, 10)));
    check_end_offset(&[(2, 0)], 10, 1, Some((1, 0)));
    check_end_offset(&[(2, 0)], 10, 3, None);
}

#[test]
fn assign_keeps_only_increasing_epochs() {
    let mut c = EpochCache::new();
    assert_eq!(c.latest_epoch(), None);
    assert_eq!(c.assign(0, 0), Assigned::New);
    assert_eq!(c.assign(0, 5), Assigned::Same);
    assert_eq!(c.assign(2, 10), Assigned::New);
    assert_eq!(c.assign(1, 20), Assigned::Ignored, "a lower epoch is ignored");
    assert_eq!(c.assign(-1, 20), Assigned::Ignored, "no epoch (-1) is ignored");
    assert_eq!(c.assign(3, -1), Assigned::Ignored);
    assert_eq!(c.entries(), &[(0, 0), (2, 10)]);
    assert_eq!(c.latest_epoch(), Some(2));
    // A greater epoch starting at or below cached entries replaces them (a stale cache being repaired).
    assert_eq!(c.assign(7, 10), Assigned::New);
    assert_eq!(c.entries(), &[(0, 0), (7, 10)]);
    assert_eq!(c.assign(8, 0), Assigned::New);
    assert_eq!(c.entries(), &[(8, 0)]);
}

#[test]
fn truncate_from_end_drops_entries_at_or_after_the_offset() {
    let mut c = cache(&[(1, 0), (3, 100), (5, 250)]);
    assert!(!c.truncate_from_end(400));
    assert!(!c.truncate_from_end(251));
    assert!(c.truncate_from_end(250));
    assert_eq!(c.entries(), &[(1, 0), (3, 100)]);
    assert!(c.truncate_from_end(50));
    assert_eq!(c.entries(), &[(1, 0)]);
    assert!(c.truncate_from_end(0));
    assert_eq!(c.entries(), &[]);
    assert!(!c.truncate_from_end(0));
}

#[test]
fn truncate_from_start_moves_the_covering_entry_to_the_new_start() {
    let check = |start: i64, changed: bool, expected: &[(i32, i64)]| {
        let mut c = cache(&[(1, 0), (3, 100), (5, 250)]);
        assert_eq!(c.truncate_from_start(start), changed, "start {start}");
        assert_eq!(c.entries(), expected, "start {start}");
    };
    check(0, false, &[(1, 0), (3, 100), (5, 250)]);
    check(40, true, &[(1, 40), (3, 100), (5, 250)]);
    check(100, true, &[(3, 100), (5, 250)]);
    check(101, true, &[(3, 101), (5, 250)]);
    check(300, true, &[(5, 300)]);
    // Starting below the first entry changes nothing.
    let mut c = cache(&[(4, 70)]);
    assert!(!c.truncate_from_start(10));
    assert_eq!(c.entries(), &[(4, 70)]);
}

#[test]
fn clear_reports_whether_anything_was_dropped() {
    let mut c = cache(&[(1, 0)]);
    assert!(c.clear());
    assert!(!c.clear());
    assert_eq!(c.latest_epoch(), None);
}

#[test]
fn the_checkpoint_text_is_kafkas_format_and_round_trips() {
    let c = cache(&[(0, 0), (3, 1500), (12, 90_000)]);
    let text = c.to_text();
    assert_eq!(text, "0\n3\n0 0\n3 1500\n12 90000\n");
    assert_eq!(EpochCache::parse(&text), Ok(c));
    assert_eq!(EpochCache::new().to_text(), "0\n0\n");
    assert_eq!(EpochCache::parse("0\n0\n"), Ok(EpochCache::new()));
    // Kafka's reader splits on any whitespace; a trailing blank line is harmless.
    assert_eq!(
        EpochCache::parse("0\n2\n1  10\n2\t20\n\n").map(|c| c.entries().to_vec()),
        Ok(vec![(1, 10), (2, 20)])
    );
}

#[test]
fn malformed_or_torn_checkpoint_text_is_rejected() {
    for bad in [
        "",
        "0\n",
        "1\n0\n",
        "0\nx\n",
        "0\n2\n1 0\n",
        "0\n1\n1 0\n2 5\n",
        "0\n1\n1\n",
        "0\n1\n1 0 7\n",
        "0\n1\na 0\n",
        "0\n1\n1 b\n",
        "0\n1\n-1 0\n",
        "0\n1\n1 -5\n",
        "0\n2\n3 0\n2 10\n",
        "0\n2\n2 10\n3 10\n",
        "0\n2\n1 0\n2 10",
        "0\n2\n1 0\n2 10\0\0\n",
    ] {
        assert!(EpochCache::parse(bad).is_err(), "{bad:?} should not parse");
    }
}
