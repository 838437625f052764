//! The group coordinator: Kafka's classic consumer-group protocol, the KIP-848 consumer protocol, and
//! committed offsets, stored in the internal topic `__consumer_offsets`.
//!
//! `classic.rs` (groups, members, rebalances) and `offsets.rs` (committed offsets, retention) are
//! sans-IO: time comes in as milliseconds, parked requests are tickets answered through outputs, and
//! every change to persist is a [`offsets::Record`]. Unit tests drive them without sockets or clocks.
//! `consumer.rs` is the KIP-848 consumer group state machine (ConsumerGroupHeartbeat, ConsumerGroupDescribe,
//! the group side of offsets), sans-IO in the same way, emitting [`consumer::Record`]s of Kafka's record
//! types 3, 5, 6, 7, 8 and 16; `assignor.rs` holds its server-side assignors (`uniform`, `range`), pure
//! functions. A group id belongs to one kind at a time (`offsets::Coordinator`): an empty group of one
//! kind becomes the other when a member of the other kind joins; a non-empty one refuses it (no online
//! migration: GROUP_ID_NOT_FOUND for a heartbeat, INCONSISTENT_GROUP_PROTOCOL for a JoinGroup).
//!
//! [`GroupCoordinator`] is their driver, a peer of the `ReplicaManager`: one task owns the state and
//! takes requests from the handlers (`apis/group.rs`) through a channel, sleeps until the next timer, and
//! persists records through the same produce path as clients (`ReplicaManager::append_records` with
//! acks=all, so an answer that depends on a record is sent only once the record is committed), in
//! Kafka's key/value formats (`records.rs`). It coordinates the groups of the `__consumer_offsets`
//! partitions this broker leads, and follows their leadership
//! ([`GroupCoordinator::leadership_changed`]): a partition newly led here is replayed from its log (its
//! groups get COORDINATOR_LOAD_IN_PROGRESS meanwhile, while the other partitions' groups are served), then
//! its KIP-848 groups are handed the broker's topics, as they are again whenever the topic table changes
//! (regex subscriptions, new partitions); a partition led elsewhere is unloaded (its groups get
//! NOT_COORDINATOR, parked requests included). It creates the topic on first use
//! (`offsets.topic.num.partitions`, no time or size retention: the coordinator cleans the partitions it
//! leads itself, by rewriting the live records and dropping the segments before them).

pub(crate) mod assignor;
pub(crate) mod classic;
pub(crate) mod consumer;
mod driver;
pub(crate) mod offsets;
mod records;

pub(crate) use driver::{CreateTopic, GroupCoordinator, OFFSETS_TOPIC};

/// The `__consumer_offsets` partition that holds a group (Kafka's `partitionFor`):
/// `Utils.abs(groupId.hashCode()) % partitions`, with Java's `String.hashCode` over UTF-16 code units.
pub(crate) fn partition_for(group_id: &str, partitions: i32) -> i32 {
    let hash = group_id
        .encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
    // Kafka's Utils.abs maps Integer.MIN_VALUE to 0.
    let abs = if hash == i32::MIN { 0 } else { hash.abs() };
    abs % partitions.max(1)
}

#[cfg(test)]
mod tests;
