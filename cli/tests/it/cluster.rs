//! `kzero cluster status` against a single broker: a one-voter quorum it leads, and itself as the one
//! unfenced broker. (Multi-node clusters are exercised by the broker's own cluster tests.)

use crate::support::Broker;

#[test]
fn status_shows_the_one_voter_quorum_and_the_broker() {
    let broker = Broker::start();
    broker.kzero(&["topics", "create", "t", "--partitions", "2"]).ok();
    let status = broker.kzero(&["cluster", "status"]);
    let out = status.ok();
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name).map(str::trim))
            .unwrap_or_else(|| panic!("no {name} in {out}"))
            .to_string()
    };
    assert_eq!(field("LeaderId:"), "0");
    assert_eq!(field("CurrentVoters:"), "[0]");
    assert_eq!(field("CurrentObservers:"), "[]");
    assert_eq!(field("MaxFollowerLag:"), "0");
    // The topic's creation went through the metadata log: the committed offset moved past it.
    let hw: i64 = field("HighWatermark:").parse().unwrap();
    assert!(hw >= 3, "{out}");
    assert!(out.contains("0\t") && out.contains("Leader"), "{out}");
    assert!(out.contains(&format!("0\t{}\tunfenced", broker.addr)), "{out}");
}
