//! Replica placement, after Kafka's `StripedReplicaPlacer` without racks (every broker is its own rack).
//!
//! Usable brokers are the registered ones not in controlled shutdown; unfenced brokers come first (by id)
//! and fenced ones are used only when the unfenced are exhausted. Partition `p` starts at unfenced broker
//! `(start + p) mod unfenced`, so its first replica (the preferred leader) is always unfenced and
//! consecutive partitions stripe their leaders across brokers; the following replicas are the next usable
//! brokers after it, never one twice.

use protocol::ErrorCode;

use crate::image::Image;

/// Places `count` partitions with `replication_factor` replicas each; `start` is the caller's random
/// starting point (sans-IO: no randomness here).
pub fn place(
    image: &Image,
    count: i32,
    replication_factor: i16,
    start: usize,
) -> Result<Vec<Vec<i32>>, (ErrorCode, String)> {
    let unfenced: Vec<i32> = image.brokers.values().filter(|b| b.is_active()).map(|b| b.id).collect();
    let fenced: Vec<i32> = image
        .brokers
        .values()
        .filter(|b| b.fenced && !b.in_controlled_shutdown)
        .map(|b| b.id)
        .collect();
    let usable = unfenced.len() + fenced.len();
    if replication_factor <= 0 {
        return Err((
            ErrorCode::InvalidReplicationFactor,
            format!("Replication factor must be larger than 0, not {replication_factor}."),
        ));
    }
    let rf = replication_factor as usize;
    if rf > usable {
        return Err((
            ErrorCode::InvalidReplicationFactor,
            format!("Unable to replicate the partition {rf} time(s): The target replication factor of {rf} cannot be reached because only {usable} broker(s) are registered."),
        ));
    }
    if unfenced.is_empty() {
        return Err((
            ErrorCode::InvalidReplicationFactor,
            "All brokers are currently fenced.".into(),
        ));
    }
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let start = start % unfenced.len();
    for p in 0..usize::try_from(count).unwrap_or(0) {
        let first = (start + p % unfenced.len()) % unfenced.len();
        // Unfenced brokers from the striped start, then the fenced ones.
        let order = unfenced[first..]
            .iter()
            .chain(&unfenced[..first])
            .chain(&fenced)
            .copied();
        out.push(order.take(rf).collect());
    }
    Ok(out)
}
