//! `kzero cluster status`: the metadata quorum and the brokers, like `kafka-metadata-quorum describe
//! --status --replication` plus the broker list, from DescribeQuorum and DescribeCluster (v2, fenced
//! brokers included), sent to any broker.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use protocol::{
    DescribeClusterRequest, DescribeQuorumPartitionData, DescribeQuorumRequest, DescribeQuorumTopicData, ResponseBody,
};

use crate::client::{code_name, Client};
use crate::ConnectArgs;

/// The `kzero cluster` subcommands.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// The metadata quorum (leader, term, each voter's log end and lag) and the brokers with their state.
    Status(StatusArgs),
}

/// `kzero cluster status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    connect: ConnectArgs,
}

pub fn run(c: ClusterCommand) -> Result<ExitCode> {
    match c {
        ClusterCommand::Status(a) => status(a).map(|()| ExitCode::SUCCESS),
    }
}

fn status(a: StatusArgs) -> Result<()> {
    let mut client = Client::connect(&a.connect.settings()?)?;
    let request = DescribeQuorumRequest {
        topics: vec![DescribeQuorumTopicData {
            topic_name: "__cluster_metadata".into(),
            partitions: vec![DescribeQuorumPartitionData {
                partition_index: 0,
                ..DescribeQuorumPartitionData::default()
            }],
            ..DescribeQuorumTopicData::default()
        }],
        ..DescribeQuorumRequest::default()
    };
    let ResponseBody::DescribeQuorum(q) = client.bootstrap().call(request)? else {
        bail!("unexpected response to DescribeQuorum");
    };
    if q.error_code != 0 {
        bail!(
            "cannot describe the quorum: {}{}",
            code_name(q.error_code),
            q.error_message.map(|m| format!(" ({m})")).unwrap_or_default()
        );
    }
    let Some(p) = q.topics.first().and_then(|t| t.partitions.first()) else {
        bail!("the broker described no metadata partition");
    };
    if p.error_code != 0 {
        bail!("cannot describe the quorum: {}", code_name(p.error_code));
    }
    let cluster = DescribeClusterRequest {
        endpoint_type: 1,
        include_fenced_brokers: true,
        ..DescribeClusterRequest::default()
    };
    let ResponseBody::DescribeCluster(c) = client.bootstrap().call(cluster)? else {
        bail!("unexpected response to DescribeCluster");
    };
    let leader_end = p
        .current_voters
        .iter()
        .find(|v| v.replica_id == p.leader_id)
        .map_or(p.high_watermark, |v| v.log_end_offset);
    let lag = |end: i64| {
        if end < 0 {
            "?".to_string()
        } else {
            (leader_end - end).max(0).to_string()
        }
    };
    let max_lag = p
        .current_voters
        .iter()
        .filter(|v| v.log_end_offset >= 0)
        .map(|v| (leader_end - v.log_end_offset).max(0))
        .max()
        .unwrap_or(0);
    let ids =
        |v: &[protocol::QuorumReplicaState]| v.iter().map(|r| r.replica_id.to_string()).collect::<Vec<_>>().join(",");
    let mut out = io::stdout().lock();
    writeln!(out, "ClusterId:          {}", c.cluster_id)?;
    writeln!(out, "LeaderId:           {}", p.leader_id)?;
    writeln!(out, "LeaderEpoch:        {}", p.leader_epoch)?;
    writeln!(out, "HighWatermark:      {}", p.high_watermark)?;
    writeln!(out, "MaxFollowerLag:     {max_lag}")?;
    writeln!(out, "CurrentVoters:      [{}]", ids(&p.current_voters))?;
    writeln!(out, "CurrentObservers:   [{}]", ids(&p.observers))?;
    writeln!(out)?;
    writeln!(out, "NodeId\tLogEndOffset\tLag\tStatus")?;
    let members = p
        .current_voters
        .iter()
        .map(|v| {
            (
                v,
                if v.replica_id == p.leader_id {
                    "Leader"
                } else {
                    "Follower"
                },
            )
        })
        .chain(p.observers.iter().map(|o| (o, "Observer")));
    for (r, role) in members {
        writeln!(
            out,
            "{}\t{}\t{}\t{role}",
            r.replica_id,
            r.log_end_offset,
            lag(r.log_end_offset)
        )?;
    }
    writeln!(out)?;
    writeln!(out, "BrokerId\tAddress\tStatus")?;
    let mut brokers = c.brokers;
    brokers.sort_by_key(|b| b.broker_id);
    for b in brokers {
        let state = if b.is_fenced { "fenced" } else { "unfenced" };
        writeln!(out, "{}\t{}:{}\t{state}", b.broker_id, b.host, b.port)?;
    }
    Ok(())
}
