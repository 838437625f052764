//! `kzero topics create|list|describe|alter|delete|delete-records`, like Kafka's `kafka-topics.sh`,
//! `kafka-configs.sh --alter` and `kafka-delete-records.sh`.
//!
//! `alter` adds partitions (CreatePartitions) and sets or deletes topic configs (IncrementalAlterConfigs,
//! so the configs it does not name keep their values). `delete-records` raises partitions' log start
//! offsets (DeleteRecords, sent to each partition's leader) and prints the new low watermarks.
//!
//! `describe` prints Kafka's layout (one line per topic, one per partition) and adds each partition's
//! log start and end offsets (from ListOffsets). Its `Configs:` are those whose source is not Kafka's
//! default, as `kafka-topics.sh` shows them; `--all-configs` prints every one.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use protocol::{
    ApiKey, CreatableTopic, CreatableTopicConfig, CreatePartitionsRequest, CreatePartitionsTopic, CreateTopicsRequest,
    DeleteRecordsPartition, DeleteRecordsRequest, DeleteRecordsTopic, DeleteTopicsRequest, DescribeConfigsRequest,
    DescribeConfigsResource, ErrorCode, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResource,
    IncrementalAlterableConfig, ResponseBody,
};

use crate::client::{code_name, topic_error, topic_info, Client, PartitionInfo, TopicInfo};
use crate::ConnectArgs;

/// Config source of a value that is Kafka's default (DescribeConfigs v1+).
const DEFAULT_CONFIG: i8 = 5;
/// DescribeConfigs resource type of a topic.
const TOPIC_RESOURCE: i8 = 2;

#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Create a topic.
    Create(CreateArgs),
    /// List topic names, one per line.
    List(ListArgs),
    /// Describe topics: partitions, leader, replicas, ISR, log start and end offsets, configs.
    Describe(DescribeArgs),
    /// Add partitions to a topic, and set or delete its configs.
    Alter(AlterArgs),
    /// Delete topics.
    Delete(DeleteArgs),
    /// Delete a topic's records before an offset (raise the log start offset).
    DeleteRecords(DeleteRecordsArgs),
}

#[derive(Debug, Args)]
pub struct AlterArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The topic name.
    topic: String,
    /// The new number of partitions (partitions can only be added).
    #[arg(short, long, value_name = "N")]
    partitions: Option<i32>,
    /// Set a topic config, e.g. `retention.ms=60000`; repeatable.
    #[arg(short, long = "config", value_name = "KEY=VALUE", value_parser = parse_config)]
    configs: Vec<(String, String)>,
    /// Delete a topic config (back to the broker's default); repeatable.
    #[arg(long = "delete-config", value_name = "KEY")]
    delete_configs: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DeleteRecordsArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The topic name.
    topic: String,
    /// The partition (default: every partition of the topic).
    #[arg(short, long, value_name = "N")]
    partition: Option<i32>,
    /// Delete the records before this offset; -1 deletes every record up to the high watermark.
    #[arg(long, value_name = "OFFSET", allow_negative_numbers = true)]
    before: i64,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The topic name.
    topic: String,
    /// The number of partitions (default: the broker's num.partitions).
    #[arg(short, long, value_name = "N")]
    partitions: Option<i32>,
    /// The replication factor (default: the broker's default.replication.factor).
    #[arg(short, long, value_name = "N")]
    replication_factor: Option<i16>,
    /// A topic config, e.g. `retention.ms=60000`; repeatable.
    #[arg(short, long = "config", value_name = "KEY=VALUE", value_parser = parse_config)]
    configs: Vec<(String, String)>,
    /// Succeed without doing anything if the topic already exists.
    #[arg(long)]
    if_not_exists: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Also list internal topics (such as `__consumer_offsets`).
    #[arg(long)]
    internal: bool,
}

#[derive(Debug, Args)]
pub struct DescribeArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The topics to describe (default: every topic).
    topics: Vec<String>,
    /// Print every config, not only those that differ from Kafka's defaults.
    #[arg(long)]
    all_configs: bool,
    /// Only partitions whose ISR is smaller than their replicas.
    #[arg(long)]
    under_replicated_partitions: bool,
    /// Only partitions without a leader.
    #[arg(long)]
    unavailable_partitions: bool,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The topics to delete.
    #[arg(required = true)]
    topics: Vec<String>,
    /// Succeed for topics that do not exist.
    #[arg(long)]
    if_exists: bool,
}

fn parse_config(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

pub fn run(command: TopicsCommand) -> Result<ExitCode> {
    match command {
        TopicsCommand::Create(a) => create(a),
        TopicsCommand::List(a) => list(a),
        TopicsCommand::Describe(a) => describe(a),
        TopicsCommand::Alter(a) => alter(a),
        TopicsCommand::Delete(a) => delete(a),
        TopicsCommand::DeleteRecords(a) => delete_records(a),
    }
    .map(|()| ExitCode::SUCCESS)
}

fn create(a: CreateArgs) -> Result<()> {
    let mut client = Client::connect(&a.connect.settings()?)?;
    let request = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: a.topic.clone(),
            num_partitions: a.partitions.unwrap_or(-1),
            replication_factor: a.replication_factor.unwrap_or(-1),
            configs: a
                .configs
                .iter()
                .map(|(k, v)| CreatableTopicConfig {
                    name: k.clone(),
                    value: Some(v.clone()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        timeout_ms: a.connect.request_timeout_ms.min(i32::MAX as u64) as i32,
        ..Default::default()
    };
    // CreateTopics must go to the controller; brokers forward it (Kafka 2.8+) or answer NOT_CONTROLLER.
    let ResponseBody::CreateTopics(r) = client.bootstrap().call(request)? else {
        bail!("unexpected response to CreateTopics");
    };
    for t in r.topics {
        if t.error_code == ErrorCode::TopicAlreadyExists.code() && a.if_not_exists {
            continue;
        }
        if t.error_code != 0 {
            let detail = t.error_message.filter(|m| !m.is_empty());
            match detail {
                Some(m) => bail!("cannot create topic {:?}: {}: {m}", t.name, code_name(t.error_code)),
                None => bail!(
                    "cannot create topic {:?}: {}",
                    t.name,
                    topic_error(&t.name, t.error_code)
                ),
            }
        }
        writeln!(io::stdout(), "Created topic {}.", t.name)?;
    }
    Ok(())
}

fn list(a: ListArgs) -> Result<()> {
    let mut client = Client::connect(&a.connect.settings()?)?;
    let m = client.metadata(None, false)?;
    let mut names: Vec<String> = m
        .topics
        .into_iter()
        .filter(|t| a.internal || !t.is_internal)
        .filter_map(|t| t.name)
        .collect();
    names.sort();
    let mut out = io::stdout().lock();
    for n in names {
        writeln!(out, "{n}")?;
    }
    Ok(())
}

fn describe(a: DescribeArgs) -> Result<()> {
    let mut client = Client::connect(&a.connect.settings()?)?;
    let topics: Vec<TopicInfo> = if a.topics.is_empty() {
        let m = client.metadata(None, false)?;
        let mut all: Vec<TopicInfo> = m
            .topics
            .into_iter()
            .filter(|t| !t.is_internal)
            .map(topic_info)
            .collect();
        all.sort_by(|x, y| x.name.cmp(&y.name));
        all
    } else {
        let mut v = Vec::new();
        for t in &a.topics {
            v.push(client.topic(t, false)?);
        }
        v
    };
    let mut out = io::stdout().lock();
    for t in topics {
        // With a partition filter only the matching partitions are printed, as kafka-topics.sh does.
        if !(a.under_replicated_partitions || a.unavailable_partitions) {
            let configs = topic_configs(&mut client, &t.name, a.all_configs)?;
            let rf = t.partitions.first().map_or(0, |p| p.replicas.len());
            writeln!(
                out,
                "Topic: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {}",
                t.name,
                t.partitions.len(),
                rf,
                configs
            )?;
        }
        let start = client.list_offsets(&t.name, &t.partitions, -2)?;
        let end = client.list_offsets(&t.name, &t.partitions, -1)?;
        let shown = t.partitions.iter().filter(|p| {
            (!a.under_replicated_partitions || p.isr.len() < p.replicas.len())
                && (!a.unavailable_partitions || p.leader < 0)
        });
        for p in shown {
            let list = |v: &[i32]| v.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
            let mut err = if p.offline.is_empty() {
                String::new()
            } else {
                format!("\tOffline: {}", list(&p.offline))
            };
            if p.error_code != 0 {
                err.push_str(&format!("\tError: {}", code_name(p.error_code)));
            }
            writeln!(
                out,
                "\tTopic: {}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}\tLogStartOffset: {}\tLogEndOffset: {}{err}",
                t.name,
                p.partition,
                if p.leader < 0 { "none".to_string() } else { p.leader.to_string() },
                list(&p.replicas),
                list(&p.isr),
                start.get(&p.partition).copied().unwrap_or(-1),
                end.get(&p.partition).copied().unwrap_or(-1),
            )?;
        }
    }
    Ok(())
}

/// `k=v,k=v` for the topic's configs (non-default ones unless `all`); empty when the broker does not
/// support DescribeConfigs.
fn topic_configs(client: &mut Client, topic: &str, all: bool) -> Result<String> {
    if !client.bootstrap().versions.advertises(ApiKey::DescribeConfigs) {
        return Ok(String::new());
    }
    let request = DescribeConfigsRequest {
        resources: vec![DescribeConfigsResource {
            resource_type: TOPIC_RESOURCE,
            resource_name: topic.to_string(),
            configuration_keys: None,
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::DescribeConfigs(r) = client.bootstrap().call(request)? else {
        bail!("unexpected response to DescribeConfigs");
    };
    let mut entries = Vec::new();
    for res in r.results {
        if res.error_code != 0 {
            bail!(
                "cannot describe the configs of topic {topic:?}: {}",
                code_name(res.error_code)
            );
        }
        for c in res.configs {
            if all || c.config_source != DEFAULT_CONFIG {
                let value = if c.is_sensitive {
                    "(sensitive)".to_string()
                } else {
                    c.value.unwrap_or_else(|| "null".into())
                };
                entries.push(format!("{}={value}", c.name));
            }
        }
    }
    entries.sort();
    Ok(entries.join(","))
}

fn delete(a: DeleteArgs) -> Result<()> {
    let mut client = Client::connect(&a.connect.settings()?)?;
    let request = DeleteTopicsRequest {
        topic_names: a.topics.clone(),
        timeout_ms: a.connect.request_timeout_ms.min(i32::MAX as u64) as i32,
        ..Default::default()
    };
    let ResponseBody::DeleteTopics(r) = client.bootstrap().call(request)? else {
        bail!("unexpected response to DeleteTopics");
    };
    let mut failed = None;
    for t in r.responses {
        let name = t.name.unwrap_or_default();
        if t.error_code == ErrorCode::UnknownTopicOrPartition.code() && a.if_exists {
            continue;
        }
        if t.error_code != 0 {
            failed.get_or_insert(format!(
                "cannot delete topic {:?}: {}",
                name,
                topic_error(&name, t.error_code)
            ));
            continue;
        }
        writeln!(io::stdout(), "Deleted topic {name}.")?;
    }
    match failed {
        Some(e) => bail!("{e}"),
        None => Ok(()),
    }
}

fn alter(a: AlterArgs) -> Result<()> {
    if a.partitions.is_none() && a.configs.is_empty() && a.delete_configs.is_empty() {
        bail!("nothing to alter: give --partitions, --config or --delete-config");
    }
    let mut client = Client::connect(&a.connect.settings()?)?;
    let timeout_ms = a.connect.request_timeout_ms.min(i32::MAX as u64) as i32;
    if let Some(count) = a.partitions {
        let request = CreatePartitionsRequest {
            topics: vec![CreatePartitionsTopic {
                name: a.topic.clone(),
                count,
                assignments: None,
                ..Default::default()
            }],
            timeout_ms,
            ..Default::default()
        };
        let ResponseBody::CreatePartitions(r) = client.bootstrap().call(request)? else {
            bail!("unexpected response to CreatePartitions");
        };
        for t in r.results {
            if t.error_code != 0 {
                let why = t
                    .error_message
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| topic_error(&t.name, t.error_code));
                bail!("cannot add partitions to topic {:?}: {why}", t.name);
            }
            writeln!(io::stdout(), "Topic {} now has {count} partitions.", t.name)?;
        }
    }
    if !a.configs.is_empty() || !a.delete_configs.is_empty() {
        let mut configs: Vec<IncrementalAlterableConfig> = a
            .configs
            .iter()
            .map(|(k, v)| IncrementalAlterableConfig {
                name: k.clone(),
                config_operation: SET,
                value: Some(v.clone()),
                ..Default::default()
            })
            .collect();
        configs.extend(a.delete_configs.iter().map(|k| IncrementalAlterableConfig {
            name: k.clone(),
            config_operation: DELETE,
            value: None,
            ..Default::default()
        }));
        let request = IncrementalAlterConfigsRequest {
            resources: vec![IncrementalAlterConfigsResource {
                resource_type: TOPIC_RESOURCE,
                resource_name: a.topic.clone(),
                configs,
                ..Default::default()
            }],
            validate_only: false,
            ..Default::default()
        };
        let ResponseBody::IncrementalAlterConfigs(r) = client.bootstrap().call(request)? else {
            bail!("unexpected response to IncrementalAlterConfigs");
        };
        for res in r.responses {
            if res.error_code != 0 {
                let why = res
                    .error_message
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| topic_error(&res.resource_name, res.error_code));
                bail!("cannot alter the configs of topic {:?}: {why}", res.resource_name);
            }
            writeln!(io::stdout(), "Altered the configs of topic {}.", res.resource_name)?;
        }
    }
    Ok(())
}

/// IncrementalAlterConfigs operations.
const SET: i8 = 0;
const DELETE: i8 = 1;

fn delete_records(a: DeleteRecordsArgs) -> Result<()> {
    if a.before < -1 {
        bail!("--before must be an offset, or -1 for the high watermark");
    }
    let mut client = Client::connect(&a.connect.settings()?)?;
    let topic = client.topic(&a.topic, false)?;
    let partitions: Vec<&PartitionInfo> = match a.partition {
        None => topic.partitions.iter().collect(),
        Some(p) => match topic.partitions.iter().find(|x| x.partition == p) {
            Some(x) => vec![x],
            None => bail!("topic {:?} has no partition {p}", a.topic),
        },
    };
    let mut by_leader: std::collections::BTreeMap<i32, Vec<i32>> = std::collections::BTreeMap::new();
    for p in partitions {
        if p.leader < 0 {
            bail!("partition {} of topic {:?} has no leader", p.partition, a.topic);
        }
        by_leader.entry(p.leader).or_default().push(p.partition);
    }
    let timeout_ms = a.connect.request_timeout_ms.min(i32::MAX as u64) as i32;
    let mut out = io::stdout().lock();
    for (leader, parts) in by_leader {
        let request = DeleteRecordsRequest {
            topics: vec![DeleteRecordsTopic {
                name: a.topic.clone(),
                partitions: parts
                    .iter()
                    .map(|&p| DeleteRecordsPartition {
                        partition_index: p,
                        offset: a.before,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            timeout_ms,
            ..Default::default()
        };
        let ResponseBody::DeleteRecords(r) = client.leader(leader)?.call(request)? else {
            bail!("unexpected response to DeleteRecords");
        };
        for t in r.topics {
            for p in t.partitions {
                if p.error_code == ErrorCode::OffsetOutOfRange.code() {
                    bail!(
                        "cannot delete records of {:?} partition {}: offset {} is beyond the high watermark",
                        t.name,
                        p.partition_index,
                        a.before
                    );
                }
                if p.error_code != 0 {
                    bail!(
                        "cannot delete records of {:?} partition {}: {}",
                        t.name,
                        p.partition_index,
                        topic_error(&t.name, p.error_code)
                    );
                }
                writeln!(
                    out,
                    "Topic: {}\tPartition: {}\tLowWatermark: {}",
                    t.name, p.partition_index, p.low_watermark
                )?;
            }
        }
    }
    Ok(())
}
