//! The partitioner must match Kafka's, or keyed records land in other partitions than Java clients put
//! them in.

use super::*;

#[test]
fn murmur2_matches_kafkas_test_vectors() {
    // From Kafka's `UtilsTest.testMurmur2`.
    let cases: [(&str, i32); 6] = [
        ("21", -973_932_308),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
        ("abc", 479_470_107),
    ];
    for (input, expect) in cases {
        assert_eq!(murmur2(input.as_bytes()), expect, "{input}");
    }
}

#[test]
fn key_partition_is_in_range() {
    for k in ["", "a", "key-1", "another key"] {
        let p = key_partition(k.as_bytes(), 7);
        assert!((0..7).contains(&p), "{k}: {p}");
    }
}

#[test]
fn acks_accept_kafkas_spellings() {
    assert_eq!(parse_acks("all"), Ok(-1));
    assert_eq!(parse_acks("-1"), Ok(-1));
    assert_eq!(parse_acks("1"), Ok(1));
    assert_eq!(parse_acks("0"), Ok(0));
    assert!(parse_acks("2").is_err());
}
