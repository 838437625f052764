//! Records in, image out: the replay rules, placement, elections, fencing and AlterPartition's checks.

use protocol::ErrorCode;

use crate::controller::{self, AlterIsr, Heartbeat, NewTopic, Sessions};
use crate::records::{Endpoint, PartitionChange, RegisterBroker, NO_LEADER, NO_LEADER_CHANGE};
use crate::{Batch, Image, Record};

/// A cluster image: `brokers` registered and unfenced (epochs = their registration indexes 1..).
struct Cluster {
    image: Image,
    sessions: Sessions,
    now: u64,
}

impl Cluster {
    fn new(brokers: i32) -> Cluster {
        let mut c = Cluster {
            image: Image::default(),
            sessions: Sessions::new(9000),
            now: 0,
        };
        for id in 0..brokers {
            let records = controller::register_broker(&c.image, &mut c.sessions, 0, registration(id, 1)).unwrap();
            c.write(records);
            let epoch = c.image.brokers[&id].epoch;
            let (records, reply) = controller::heartbeat(&c.image, &mut c.sessions, 0, &hb(id, epoch, c.image.offset));
            assert_eq!(reply.error, ErrorCode::None);
            c.write(records);
        }
        c
    }

    fn write(&mut self, records: Vec<Record>) {
        let index = self.image.offset + 1;
        self.image.apply_batch(index, &Batch(records));
    }

    fn create(&mut self, name: &str, partitions: i32, rf: i16) -> [u8; 16] {
        let id = [name.len() as u8 + 1; 16];
        let records = controller::create_topic(&self.image, &new_topic(name, id, partitions, rf), 0).unwrap();
        self.write(records);
        id
    }

    fn epoch(&self, id: i32) -> i64 {
        self.image.brokers[&id].epoch
    }
}

fn registration(id: i32, incarnation: u8) -> RegisterBroker {
    RegisterBroker {
        broker_id: id,
        incarnation_id: [incarnation; 16],
        endpoints: vec![Endpoint {
            name: "PLAINTEXT".into(),
            host: "127.0.0.1".into(),
            port: 9092 + id as u16,
            security_protocol: 0,
        }],
        rack: None,
        observer_addr: None,
    }
}

fn hb(id: i32, epoch: i64, offset: u64) -> Heartbeat {
    Heartbeat {
        broker_id: id,
        broker_epoch: epoch,
        metadata_offset: offset,
        want_fence: false,
        want_shutdown: false,
    }
}

fn new_topic(name: &str, id: [u8; 16], partitions: i32, rf: i16) -> NewTopic {
    NewTopic {
        name: name.into(),
        id,
        partitions,
        replication_factor: rf,
        assignments: Vec::new(),
        configs: vec![("retention.ms".into(), "1000".into())],
    }
}

#[test]
fn a_registration_starts_fenced_and_a_caught_up_heartbeat_unfences_it() {
    let mut c = Cluster {
        image: Image::default(),
        sessions: Sessions::new(9000),
        now: 0,
    };
    let r = controller::register_broker(&c.image, &mut c.sessions, 0, registration(3, 1)).unwrap();
    c.write(vec![Record::NoOp]);
    c.write(r);
    assert_eq!(c.epoch(3), 2, "the epoch is the registration's index");
    assert!(c.image.brokers[&3].fenced);
    // Behind the registration: stays fenced, not caught up.
    let (records, reply) = controller::heartbeat(&c.image, &mut c.sessions, 0, &hb(3, 2, 1));
    assert!(records.is_empty() && reply.is_fenced && !reply.is_caught_up);
    // Wanting to stay fenced: stays fenced.
    let (records, reply) = controller::heartbeat(
        &c.image,
        &mut c.sessions,
        0,
        &Heartbeat {
            want_fence: true,
            ..hb(3, 2, 2)
        },
    );
    assert!(records.is_empty() && reply.is_fenced && reply.is_caught_up);
    let (records, reply) = controller::heartbeat(&c.image, &mut c.sessions, 0, &hb(3, 2, 2));
    assert!(!reply.is_fenced);
    c.write(records);
    assert!(!c.image.brokers[&3].fenced);
    // A wrong epoch is stale.
    let (_, reply) = controller::heartbeat(&c.image, &mut c.sessions, 0, &hb(3, 1, 9));
    assert_eq!(reply.error, ErrorCode::StaleBrokerEpoch);
}

#[test]
fn a_retried_registration_keeps_its_epoch_and_a_live_duplicate_is_refused() {
    let mut c = Cluster::new(2);
    let epoch = c.epoch(1);
    assert_eq!(
        controller::register_broker(&c.image, &mut c.sessions, 100, registration(1, 1)),
        Ok(Vec::new())
    );
    assert_eq!(c.epoch(1), epoch);
    let refused = controller::register_broker(&c.image, &mut c.sessions, 100, registration(1, 2)).unwrap_err();
    assert_eq!(refused.0, ErrorCode::DuplicateBrokerRegistration);
    // After the session expires, a new incarnation registers with a new epoch, fenced.
    let r = controller::register_broker(&c.image, &mut c.sessions, 100 + 9000, registration(1, 2)).unwrap();
    c.write(r);
    assert!(c.epoch(1) > epoch && c.image.brokers[&1].fenced);
}

#[test]
fn a_restarted_broker_loses_its_leaderships_before_it_registers_again() {
    // A new controller term has no sessions: a broker that crashed and came back re-registers at once, and
    // is handled as an unclean shutdown first, so it never keeps leading at its old epoch.
    let mut c = Cluster::new(3);
    c.create("t", 3, 3);
    c.create("solo", 3, 1);
    let before = c.image.clone();
    let mut fresh = Sessions::new(9000);
    let records = controller::register_broker(&c.image, &mut fresh, 0, registration(1, 9)).unwrap();
    c.write(records);
    assert!(c.image.brokers[&1].fenced);
    for (name, t) in &c.image.topics {
        for (i, p) in t.partitions.iter().enumerate() {
            let old = &before.topics[name].partitions[i];
            assert_ne!(p.leader, 1, "{name}-{i} still led by the restarted broker");
            if old.leader == 1 {
                assert_eq!(p.leader_epoch, old.leader_epoch + 1, "{name}-{i}");
            }
            if old.isr.len() > 1 {
                assert!(!p.isr.contains(&1), "{name}-{i} keeps it in the ISR");
            }
        }
    }
    // Unfenced once caught up: it leads again where it is the only ISR member (RF 1), at a newer epoch.
    let epoch = c.epoch(1);
    let (records, _) = controller::heartbeat(&c.image, &mut fresh, 0, &hb(1, epoch, c.image.offset));
    c.write(records);
    let solo = &c.image.topics["solo"];
    let led = solo.partitions.iter().find(|p| p.replicas == [1]).unwrap();
    assert_eq!((led.leader, led.leader_epoch), (1, 2));
}

#[test]
fn placement_stripes_leaders_and_never_repeats_a_broker() {
    let mut c = Cluster::new(3);
    c.create("t", 6, 2);
    let t = &c.image.topics["t"];
    assert_eq!(t.configs["retention.ms"], "1000");
    let leaders: Vec<i32> = t.partitions.iter().map(|p| p.leader).collect();
    assert_eq!(leaders, [0, 1, 2, 0, 1, 2]);
    for p in &t.partitions {
        assert_eq!(p.replicas.len(), 2);
        assert_ne!(p.replicas[0], p.replicas[1]);
        assert_eq!(p.isr, p.replicas);
        assert_eq!((p.leader_epoch, p.partition_epoch), (0, 0));
    }
    let refused = controller::create_topic(&c.image, &new_topic("u", [9; 16], 1, 4), 0).unwrap_err();
    assert_eq!(refused.0, ErrorCode::InvalidReplicationFactor);
    let refused = controller::create_topic(&c.image, &new_topic("t", [9; 16], 1, 1), 0).unwrap_err();
    assert_eq!(refused.0, ErrorCode::TopicAlreadyExists);
    let refused = controller::create_topic(&c.image, &new_topic("u", [9; 16], 0, 1), 0).unwrap_err();
    assert_eq!(refused.0, ErrorCode::InvalidPartitions);
}

#[test]
fn any_random_starting_point_places_without_overflow() {
    let mut c = Cluster::new(3);
    c.create("t", 2, 1);
    for start in [usize::MAX, usize::MAX - 1, usize::MAX / 2] {
        let placed = crate::placement::place(&c.image, 5, 2, start).unwrap();
        assert_eq!(placed.len(), 5);
        assert!(controller::create_partitions(&c.image, "t", 4, &[], start).is_ok());
    }
}

#[test]
fn a_fenced_broker_is_placed_only_after_the_unfenced_and_never_first() {
    let mut c = Cluster::new(3);
    let epoch = c.epoch(2);
    c.write(vec![Record::BrokerRegistrationChange {
        broker_id: 2,
        broker_epoch: epoch,
        fenced: 1,
        in_controlled_shutdown: 0,
    }]);
    let placed = crate::placement::place(&c.image, 4, 3, 0).unwrap();
    for replicas in &placed {
        assert_ne!(replicas[0], 2);
        assert_eq!(replicas[2], 2);
    }
    c.write(vec![Record::BrokerRegistrationChange {
        broker_id: 0,
        broker_epoch: c.epoch(0),
        fenced: 1,
        in_controlled_shutdown: 0,
    }]);
    c.write(vec![Record::BrokerRegistrationChange {
        broker_id: 1,
        broker_epoch: c.epoch(1),
        fenced: 1,
        in_controlled_shutdown: 0,
    }]);
    let refused = crate::placement::place(&c.image, 1, 1, 0).unwrap_err();
    assert_eq!(refused.1, "All brokers are currently fenced.");
}

#[test]
fn a_partition_change_bumps_epochs_as_kafka_merges_it() {
    let mut c = Cluster::new(3);
    let id = c.create("t", 1, 3);
    let change = |isr: Option<Vec<i32>>, leader: i32| {
        Record::PartitionChange(PartitionChange {
            topic_id: id,
            partition_id: 0,
            isr,
            leader,
            replicas: None,
        })
    };
    c.write(vec![change(Some(vec![0, 1]), NO_LEADER_CHANGE)]);
    let p = c.image.partition("t", 0).unwrap().clone();
    assert_eq!(
        (p.leader, p.leader_epoch, p.partition_epoch, p.isr),
        (0, 0, 1, vec![0, 1])
    );
    // Any leader value other than "no change" bumps the leader epoch, even the same leader.
    c.write(vec![change(None, 0)]);
    let p = c.image.partition("t", 0).unwrap().clone();
    assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (0, 1, 2));
    c.write(vec![change(None, NO_LEADER)]);
    assert_eq!(c.image.partition("t", 0).unwrap().leader, NO_LEADER);
}

#[test]
fn fencing_a_stale_leader_elects_the_next_isr_replica_one_broker_at_a_time() {
    let mut c = Cluster::new(3);
    c.create("t", 3, 3);
    // Brokers 0 and 2 keep heartbeating; 1 stops.
    for now in [3000, 6000, 9000, 9500] {
        c.now = now;
        for id in [0, 2] {
            let epoch = c.epoch(id);
            let (records, _) = controller::heartbeat(&c.image, &mut c.sessions, now, &hb(id, epoch, c.image.offset));
            assert!(records.is_empty());
        }
        if now < 9000 {
            assert!(controller::fence_stale_broker(&c.image, &mut c.sessions, now).is_none());
        }
    }
    let (fenced, records) = controller::fence_stale_broker(&c.image, &mut c.sessions, c.now).unwrap();
    assert_eq!(fenced, 1);
    c.write(records);
    assert!(c.image.brokers[&1].fenced);
    assert!(controller::fence_stale_broker(&c.image, &mut c.sessions, c.now).is_none());
    let t = &c.image.topics["t"];
    // Partition 1 was led by broker 1: the next replica in replica order that is in the ISR leads now.
    let p1 = &t.partitions[1];
    assert_eq!(p1.replicas, [1, 2, 0]);
    assert_eq!((p1.leader, p1.leader_epoch, p1.isr.clone()), (2, 1, vec![2, 0]));
    // Partition 0 kept its leader: only the ISR (and the partition epoch) changed.
    let p0 = &t.partitions[0];
    assert_eq!(
        (p0.leader, p0.leader_epoch, p0.partition_epoch, p0.isr.clone()),
        (0, 0, 1, vec![0, 2])
    );
}

#[test]
fn the_last_isr_member_stays_when_fenced_and_leads_again_when_unfenced() {
    let mut c = Cluster::new(2);
    c.create("t", 2, 1);
    let epoch = c.epoch(0);
    let (records, reply) = controller::heartbeat(
        &c.image,
        &mut c.sessions,
        0,
        &Heartbeat {
            want_fence: true,
            ..hb(0, epoch, 0)
        },
    );
    assert!(reply.is_fenced);
    c.write(records);
    let p0 = c.image.partition("t", 0).unwrap().clone();
    assert_eq!((p0.leader, p0.isr.clone(), p0.leader_epoch), (NO_LEADER, vec![0], 1));
    let offset = c.image.offset;
    let (records, reply) = controller::heartbeat(&c.image, &mut c.sessions, 0, &hb(0, epoch, offset));
    assert!(!reply.is_fenced);
    c.write(records);
    let p0 = c.image.partition("t", 0).unwrap().clone();
    assert_eq!((p0.leader, p0.leader_epoch), (0, 2));
}

#[test]
fn controlled_shutdown_moves_leadership_then_lets_the_broker_go() {
    let mut c = Cluster::new(2);
    c.create("t", 2, 2);
    let epoch = c.epoch(0);
    let leaving = Heartbeat {
        want_shutdown: true,
        ..hb(0, epoch, c.image.offset)
    };
    let (records, reply) = controller::heartbeat(&c.image, &mut c.sessions, 0, &leaving);
    assert!(!reply.should_shutdown);
    c.write(records);
    assert!(c.image.brokers[&0].in_controlled_shutdown);
    assert!(c.image.led_by(0).is_empty());
    assert_eq!(c.image.partition("t", 0).unwrap().leader, 1);
    let (records, reply) = controller::heartbeat(&c.image, &mut c.sessions, 0, &leaving);
    assert!(reply.should_shutdown && reply.is_fenced);
    c.write(records);
    assert!(c.image.brokers[&0].fenced);
}

#[test]
fn create_partitions_and_delete_and_configs() {
    let mut c = Cluster::new(3);
    let id = c.create("t", 2, 2);
    let records = controller::create_partitions(&c.image, "t", 5, &[], 0).unwrap();
    c.write(records);
    assert_eq!(c.image.topics["t"].partitions.len(), 5);
    assert!(c.image.topics["t"].partitions.iter().all(|p| p.replicas.len() == 2));
    assert_eq!(
        controller::create_partitions(&c.image, "t", 5, &[], 0).unwrap_err().0,
        ErrorCode::InvalidPartitions
    );
    let bad = controller::create_partitions(&c.image, "t", 6, &[vec![0, 7]], 0).unwrap_err();
    assert_eq!(bad.0, ErrorCode::InvalidReplicaAssignment);
    let records = controller::alter_configs(
        &c.image,
        "t",
        &[
            ("retention.ms".into(), None),
            ("cleanup.policy".into(), Some("delete".into())),
        ],
    )
    .unwrap();
    c.write(records);
    assert_eq!(c.image.topics["t"].configs.len(), 1);
    let records = controller::delete_topic(&c.image, "t").unwrap();
    c.write(records);
    assert!(c.image.topic_by_id(&id).is_none() && c.image.topics.is_empty());
}

#[test]
fn producer_id_blocks_never_overlap() {
    let mut c = Cluster::new(2);
    let (a, r) = controller::allocate_producer_ids(&c.image, 0, c.epoch(0)).unwrap();
    c.write(vec![r]);
    let (b, r) = controller::allocate_producer_ids(&c.image, 1, c.epoch(1)).unwrap();
    c.write(vec![r]);
    assert_eq!((a, b), (0, crate::PRODUCER_ID_BLOCK_SIZE));
    assert_eq!(
        controller::allocate_producer_ids(&c.image, 1, 99).unwrap_err().0,
        ErrorCode::StaleBrokerEpoch
    );
}

#[test]
fn alter_partition_checks_in_kafkas_order() {
    let mut c = Cluster::new(3);
    let id = c.create("t", 1, 3);
    let alter = |leader_epoch, partition_epoch, isr: &[i32]| AlterIsr {
        topic_id: id,
        partition: 0,
        leader_epoch,
        new_isr: isr.iter().map(|b| (*b, -1)).collect(),
        partition_epoch,
    };
    let image = &c.image;
    assert_eq!(
        controller::alter_partition(
            image,
            0,
            &AlterIsr {
                topic_id: [7; 16],
                ..alter(0, 0, &[0])
            },
            true
        ),
        Err(ErrorCode::UnknownTopicId)
    );
    assert_eq!(
        controller::alter_partition(
            image,
            0,
            &AlterIsr {
                partition: 5,
                ..alter(0, 0, &[0])
            },
            true
        ),
        Err(ErrorCode::UnknownTopicOrPartition)
    );
    assert_eq!(
        controller::alter_partition(image, 0, &alter(1, 0, &[0]), true),
        Err(ErrorCode::NotController)
    );
    assert_eq!(
        controller::alter_partition(image, 1, &alter(0, 0, &[0]), true),
        Err(ErrorCode::InvalidRequest)
    );
    assert_eq!(
        controller::alter_partition(image, 0, &alter(0, 0, &[1]), true),
        Err(ErrorCode::InvalidRequest)
    );
    assert_eq!(
        controller::alter_partition(image, 0, &alter(0, 0, &[0, 0]), true),
        Err(ErrorCode::InvalidRequest)
    );
    let stale_member = AlterIsr {
        new_isr: vec![(0, -1), (1, 999)],
        ..alter(0, 0, &[])
    };
    assert_eq!(
        controller::alter_partition(image, 0, &stale_member, true),
        Err(ErrorCode::IneligibleReplica)
    );
    assert_eq!(
        controller::alter_partition(image, 0, &stale_member, false),
        Err(ErrorCode::OperationNotAttempted)
    );
    let shrink = controller::alter_partition(image, 0, &alter(0, 0, &[0, 1]), true)
        .unwrap()
        .unwrap();
    c.write(vec![shrink]);
    let p = c.image.partition("t", 0).unwrap();
    assert_eq!((p.isr.clone(), p.leader_epoch, p.partition_epoch), (vec![0, 1], 0, 1));
    assert_eq!(
        controller::alter_partition(&c.image, 0, &alter(0, 0, &[0]), true),
        Err(ErrorCode::InvalidUpdateVersion)
    );
    assert_eq!(
        controller::check_broker_epoch(&c.image, 0, 12345),
        Err(ErrorCode::StaleBrokerEpoch)
    );
}

#[test]
fn an_image_survives_its_snapshot_and_a_batch_its_encoding() {
    let mut c = Cluster::new(3);
    c.create("t", 4, 2);
    let restored = Image::from_snapshot(&c.image.to_snapshot()).unwrap();
    assert_eq!(restored, c.image);
    let batch = Batch(controller::create_topic(&c.image, &new_topic("u", [3; 16], 2, 3), 1).unwrap());
    assert_eq!(Batch::decode(&batch.encode()).unwrap(), batch);
    assert!(Batch::decode(b"{not json").is_err());
}

#[test]
fn scram_credentials_and_acls_replay_and_survive_a_snapshot() {
    let mut c = Cluster::new(1);
    let credential = |name: &str, mechanism: i8, iterations: i32| {
        Record::UserScramCredential(crate::ScramCredential {
            name: name.into(),
            mechanism,
            salt: vec![1, 2, 3],
            stored_key: vec![4; 32],
            server_key: vec![5; 32],
            iterations,
        })
    };
    let acl = |id: u8, name: &str| {
        Record::AccessControlEntry(crate::AclEntry {
            id: [id; 16],
            resource_type: 2,
            resource_name: name.into(),
            pattern_type: 3,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: 3,
            permission_type: 3,
        })
    };
    let next = c.image.offset + 1;
    c.image.apply_batch(
        next,
        &Batch(vec![
            credential("alice", 1, 4096),
            credential("alice", 2, 4096),
            credential("alice", 1, 8192),
            acl(1, "a"),
            acl(2, "b"),
        ]),
    );
    assert_eq!(c.image.scram_credentials.len(), 2);
    assert_eq!(c.image.scram_credentials[&("alice".to_string(), 1)].iterations, 8192);
    assert_eq!(c.image.acls.len(), 2);
    // A snapshot keeps both (their maps are stored as pairs: JSON object keys must be strings).
    let restored = Image::from_snapshot(&c.image.to_snapshot()).unwrap();
    assert_eq!(restored, c.image);
    let next = c.image.offset + 1;
    c.image.apply_batch(
        next,
        &Batch(vec![
            Record::RemoveUserScramCredential {
                name: "alice".into(),
                mechanism: 2,
            },
            Record::RemoveAccessControlEntry { id: [1; 16] },
            // Removing what is not there is ignored, as every replayed record naming nothing.
            Record::RemoveAccessControlEntry { id: [9; 16] },
        ]),
    );
    assert_eq!(
        c.image.scram_credentials.keys().cloned().collect::<Vec<_>>(),
        vec![("alice".to_string(), 1)]
    );
    assert_eq!(c.image.acls.keys().cloned().collect::<Vec<_>>(), vec![[2; 16]]);
    // A snapshot written before these maps existed still loads.
    let mut old: serde_json::Value = serde_json::from_slice(&Image::default().to_snapshot()).unwrap();
    old.as_object_mut().unwrap().remove("scram_credentials");
    old.as_object_mut().unwrap().remove("acls");
    let loaded = Image::from_snapshot(&serde_json::to_vec(&old).unwrap()).unwrap();
    assert!(loaded.scram_credentials.is_empty() && loaded.acls.is_empty());
}
