//! The leader side's two periodic duties towards the controller (Kafka's `AlterPartitionManager` and the
//! `isr-expiration` task): sending the ISR changes the leaders propose, and the ISR shrink check.
//!
//! Proposals queued by the partitions ([`crate::partition::IsrQueue`]) go to the active controller in one
//! AlterPartition; a committed change is applied to the partition at once (the metadata brings the same
//! state later), `OPERATION_NOT_ATTEMPTED` and `INELIGIBLE_REPLICA` drop the proposal, and a request that
//! got no answer (no controller, a timeout, a stale broker epoch) is sent again after [`RETRY`] while its
//! proposal is still the one in flight. Other refusals (`FENCED_LEADER_EPOCH`, `INVALID_UPDATE_VERSION`)
//! wait for the metadata that explains them, as Kafka does.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use protocol::ErrorCode;
use replication::IsrProposal;
use tokio::sync::watch;

use crate::cluster::rpc::{AlterIsrSpec, Request, Response};
use crate::cluster::Cluster;
use crate::replica_manager::ReplicaManager;

/// How long an unanswered proposal waits before it is sent again.
const RETRY: Duration = Duration::from_millis(500);

/// Sends the queued ISR proposals until `stop`.
pub(crate) async fn send_proposals(
    replicas: Arc<ReplicaManager>,
    cluster: Arc<Cluster>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let items = tokio::select! {
            items = replicas.context.isr_queue.next() => items,
            _ = stop.changed() => return,
        };
        // The partitions still led, with their topic ids.
        let mut sending: Vec<(Arc<crate::partition::Partition>, IsrProposal)> = Vec::new();
        let mut specs = Vec::new();
        for (topic, index, proposal) in items {
            let Some(t) = replicas.topic(&topic) else { continue };
            let Ok(partition) = replicas.local_partition(&topic, index) else {
                continue;
            };
            if partition.proposal_pending(proposal.id).is_none() {
                continue;
            }
            specs.push(AlterIsrSpec {
                topic_id: t.id.0,
                partition: index,
                leader_epoch: proposal.leader_epoch,
                new_isr: proposal.isr.iter().map(|id| (*id, -1)).collect(),
                partition_epoch: proposal.partition_epoch,
            });
            sending.push((partition, proposal));
        }
        if sending.is_empty() {
            continue;
        }
        let request = Request::AlterPartition {
            broker_id: replicas.context.local_id,
            broker_epoch: cluster.broker.epoch.load(Ordering::Acquire),
            partitions: specs,
            v2_plus: true,
        };
        let retry_all = |sending: Vec<(Arc<crate::partition::Partition>, IsrProposal)>| {
            for (p, proposal) in sending {
                retry_later(p, proposal);
            }
        };
        match cluster.submit(request).await {
            Ok(Response::AlterPartition { results, .. }) => {
                for ((p, proposal), result) in sending.into_iter().zip(results) {
                    match result {
                        Ok(answer) => {
                            tracing::info!(topic = %p.topic, partition = p.index, isr = ?answer.isr, partition_epoch = answer.partition_epoch, "ISR change committed");
                            p.isr_committed(answer.leader_epoch, answer.isr, answer.partition_epoch);
                        }
                        Err(code) => {
                            let code = ErrorCode::from_code(code).unwrap_or(ErrorCode::UnknownServerError);
                            match code {
                                ErrorCode::OperationNotAttempted | ErrorCode::IneligibleReplica => {
                                    tracing::info!(topic = %p.topic, partition = p.index, isr = ?proposal.isr, error = %code, "ISR change refused");
                                    p.isr_rejected(proposal.id);
                                }
                                ErrorCode::NotController | ErrorCode::RequestTimedOut => retry_later(p, proposal),
                                other => {
                                    tracing::info!(topic = %p.topic, partition = p.index, isr = ?proposal.isr, error = %other, "ISR change refused; waiting for the metadata");
                                }
                            }
                        }
                    }
                }
            }
            Ok(Response::Error { code, message }) => {
                tracing::warn!(code, %message, "AlterPartition refused; retrying");
                retry_all(sending);
            }
            Ok(_) => {
                tracing::warn!("an unexpected answer to AlterPartition; retrying");
                retry_all(sending);
            }
            Err((code, message)) => {
                tracing::warn!(%code, %message, "AlterPartition failed; retrying");
                retry_all(sending);
            }
        }
    }
}

/// Queues `proposal` again after [`RETRY`] if it is still the partition's proposal in flight.
fn retry_later(partition: Arc<crate::partition::Partition>, proposal: IsrProposal) {
    tokio::spawn(async move {
        tokio::time::sleep(RETRY).await;
        if partition.proposal_pending(proposal.id).is_some() {
            partition
                .context()
                .isr_queue
                .push(&partition.topic, partition.index, proposal);
        }
    });
}

/// Runs the ISR shrink check of every partition led here every `replica_lag_time_max_ms / 2`, as Kafka
/// schedules it.
pub(crate) async fn expire_isr(replicas: Arc<ReplicaManager>, mut stop: watch::Receiver<bool>) {
    let period = Duration::from_millis((replicas.context.replica_lag_time_max_ms / 2).max(50));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        for p in replicas.partitions() {
            if p.is_leader() {
                p.tick();
            }
        }
    }
}
