//! Tests of the consumer protocol encodings (exact bytes) and of the range assignor (Kafka's cases).

use super::*;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")
}

#[test]
fn subscription_v3_bytes_are_kafkas() {
    let s = Subscription::to(vec!["t".into()]);
    // version 3 | [t] | user data null | owned [] | generation -1 | rack null
    assert_eq!(
        hex(&s.encode()),
        "00 03 00 00 00 01 00 01 74 ff ff ff ff 00 00 00 00 ff ff ff ff ff ff"
    );
    assert_eq!(Subscription::decode(&s.encode()).unwrap(), s);
}

#[test]
fn subscriptions_of_every_version_are_read() {
    // v0 as librdkafka and old Java write it: topics and user data.
    let v0 = [0, 0, 0, 0, 0, 2, 0, 1, b'a', 0, 1, b'b', 0, 0, 0, 2, 9, 9];
    let s = Subscription::decode(&v0).unwrap();
    assert_eq!(s.topics, ["a", "b"]);
    assert_eq!(s.user_data.as_deref(), Some(&[9u8, 9][..]));
    assert_eq!(s.generation_id, -1);
    // v0 without user data at all.
    assert_eq!(
        Subscription::decode(&[0, 0, 0, 0, 0, 0]).unwrap().topics,
        Vec::<String>::new()
    );
    // v1 with owned partitions.
    let v1 = [
        0, 1, 0, 0, 0, 1, 0, 1, b'a', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 1, b'a', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
        3,
    ];
    let s = Subscription::decode(&v1).unwrap();
    assert_eq!(s.owned_partitions, vec![("a".to_string(), vec![0, 3])]);
    // A future version: the known fields are read, the rest ignored.
    let mut v9 = Subscription {
        generation_id: 7,
        rack_id: Some("r1".into()),
        ..Subscription::to(vec!["x".into()])
    }
    .encode()
    .to_vec();
    v9[1] = 9;
    v9.extend_from_slice(&[1, 2, 3]);
    let s = Subscription::decode(&v9).unwrap();
    assert_eq!((s.generation_id, s.rack_id.as_deref()), (7, Some("r1")));
    // Truncated topics are an error, not a panic.
    assert!(Subscription::decode(&[0, 0, 0, 0, 0, 1, 0, 5, b'a'])
        .unwrap_err()
        .to_string()
        .contains("truncated"));
}

#[test]
fn assignment_bytes_round_trip() {
    let a = Assignment {
        partitions: vec![("t".into(), vec![0, 1]), ("u".into(), vec![2])],
        user_data: None,
    };
    assert_eq!(
        hex(&a.encode()),
        "00 03 00 00 00 02 00 01 74 00 00 00 02 00 00 00 00 00 00 00 01 00 01 75 00 00 00 01 00 00 00 02 ff ff ff ff"
    );
    assert_eq!(Assignment::decode(&a.encode()).unwrap(), a);
    assert_eq!(a.of("t"), [0, 1]);
    assert_eq!(a.display(), "t(0,1),u(2)");
    assert_eq!(a.len(), 3);
    // An empty assignment, and a v0 one without user data.
    assert_eq!(Assignment::decode(&[]).unwrap(), Assignment::default());
    assert_eq!(Assignment::default().display(), "-");
    let v0 = Assignment::decode(&[0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 4]).unwrap();
    assert_eq!(v0.of("t"), [4]);
}

fn member(id: &str, topics: &[&str]) -> AssignorMember {
    AssignorMember {
        member_id: id.into(),
        instance_id: None,
        topics: topics.iter().map(|t| t.to_string()).collect(),
    }
}

fn check(members: &[AssignorMember], topics: &[(&str, i32)], expect: &[(&str, &str)]) {
    let counts = topics.iter().map(|(t, n)| (t.to_string(), *n)).collect();
    let got = range_assign(members, &counts);
    let got: Vec<(String, String)> = got.into_iter().map(|(m, a)| (m, a.display())).collect();
    let expect: Vec<(String, String)> = expect.iter().map(|(m, a)| (m.to_string(), a.to_string())).collect();
    assert_eq!(got, expect);
}

#[test]
fn range_assignor_matches_kafkas() {
    // RangeAssignorTest: one consumer, one topic of 3 partitions.
    check(&[member("c", &["t"])], &[("t", 3)], &[("c", "t(0,1,2)")]);
    // Two consumers, 3 partitions: the first by member id gets the extra one.
    check(
        &[member("c2", &["t"]), member("c1", &["t"])],
        &[("t", 3)],
        &[("c1", "t(0,1)"), ("c2", "t(2)")],
    );
    // Two topics of 3: ranges per topic, so c1 gets the extra of both.
    check(
        &[member("c1", &["t1", "t2"]), member("c2", &["t1", "t2"])],
        &[("t1", 3), ("t2", 3)],
        &[("c1", "t1(0,1),t2(0,1)"), ("c2", "t1(2),t2(2)")],
    );
    // More consumers than partitions: the last ones get nothing.
    check(
        &[member("a", &["t"]), member("b", &["t"]), member("c", &["t"])],
        &[("t", 2)],
        &[("a", "t(0)"), ("b", "t(1)"), ("c", "-")],
    );
    // Different subscriptions, and a topic the cluster does not know.
    check(
        &[member("a", &["t1"]), member("b", &["t1", "t2"]), member("c", &["gone"])],
        &[("t1", 4), ("t2", 1)],
        &[("a", "t1(0,1)"), ("b", "t1(2,3),t2(0)"), ("c", "-")],
    );
    // Static members come first, ordered by instance id.
    let mut s = member("z", &["t"]);
    s.instance_id = Some("i1".into());
    check(&[member("a", &["t"]), s], &[("t", 2)], &[("a", "t(1)"), ("z", "t(0)")]);
}
