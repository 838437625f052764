//! `kzero groups list|describe|delete|reset-offsets`, like Kafka's `kafka-consumer-groups.sh`.
//!
//! `list` asks every broker (each lists the groups it coordinates) and prints group, state and protocol
//! type. `describe` prints three tables with Kafka's column names: the group's state (`--state`), its
//! members with their assignments decoded from the consumer protocol (`--members --verbose`), and per
//! partition the committed offset, the log end offset (ListOffsets) and the lag (`--describe`).
//! `delete` removes groups without active members and their offsets. `reset-offsets` plans new
//! committed offsets for a group without active members and prints them; `--execute` commits them
//! (OffsetCommit with generation -1 and no member id, as an admin tool does).
//!
//! Every request about a group goes to its coordinator (FindCoordinator) and is asked again while the
//! coordinator is loading or moving.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{ArgGroup, Args, Subcommand};
use protocol::{DeleteGroupsRequest, ErrorCode, ListGroupsRequest, ResponseBody};

use crate::client::{code_name, Client, Conn, PartitionInfo};
use crate::group::{
    backoff, commit_offsets, coordinator_moved, coordinator_retriable, describe_group, fetch_offsets, find_coordinator,
    group_problem, require_groups, Assignment, Committed, OffsetToCommit, CONSUMER_PROTOCOL_TYPE,
};
use crate::table::print_table;
use crate::ConnectArgs;

#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// List consumer groups: group, state and protocol type.
    List(ListArgs),
    /// Describe a group: state, members and their partitions, committed offsets, log end offsets and lag.
    Describe(DescribeArgs),
    /// Delete groups that have no active members, with their committed offsets.
    Delete(DeleteArgs),
    /// Print (default) or commit (--execute) new committed offsets for a group without active members.
    ResetOffsets(ResetArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub struct DescribeArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The group.
    group: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The groups to delete.
    #[arg(required = true)]
    groups: Vec<String>,
}

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("target")
        .required(true)
        .args(["to_earliest", "to_latest", "to_offset", "to_datetime"])
))]
pub struct ResetArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The group.
    group: String,
    /// A topic, or some of its partitions (`t:0,2`); repeatable.
    #[arg(short, long = "topic", value_name = "TOPIC[:P,P]", required = true, value_parser = parse_topic)]
    topics: Vec<(String, Option<Vec<i32>>)>,
    /// Reset to each partition's log start offset.
    #[arg(long)]
    to_earliest: bool,
    /// Reset to each partition's log end offset.
    #[arg(long)]
    to_latest: bool,
    /// Reset to this offset (kept within each partition's log start and end).
    #[arg(long, value_name = "OFFSET")]
    to_offset: Option<i64>,
    /// Reset to the first record at or after this RFC 3339 time (e.g. 2024-05-01T12:00:00Z), or the end.
    #[arg(long, value_name = "TIME", value_parser = parse_datetime)]
    to_datetime: Option<i64>,
    /// Commit the new offsets (default: only print them).
    #[arg(long)]
    execute: bool,
    /// Only print the new offsets (the default).
    #[arg(long, conflicts_with = "execute")]
    dry_run: bool,
}

pub fn run(command: GroupsCommand) -> Result<ExitCode> {
    let connect = match &command {
        GroupsCommand::List(a) => &a.connect,
        GroupsCommand::Describe(a) => &a.connect,
        GroupsCommand::Delete(a) => &a.connect,
        GroupsCommand::ResetOffsets(a) => &a.connect,
    };
    let mut client = Client::connect(&connect.settings()?)?;
    require_groups(client.bootstrap())?;
    match command {
        GroupsCommand::List(_) => list(client),
        GroupsCommand::Describe(a) => describe(client, a),
        GroupsCommand::Delete(a) => delete(client, a),
        GroupsCommand::ResetOffsets(a) => reset_offsets(client, a),
    }
    .map(|()| ExitCode::SUCCESS)
}

/// `t` or `t:0,1,2`.
fn parse_topic(s: &str) -> Result<(String, Option<Vec<i32>>), String> {
    let (topic, parts) = match s.split_once(':') {
        Some((t, p)) => (t, Some(p)),
        None => (s, None),
    };
    if topic.is_empty() {
        return Err(format!("expected TOPIC or TOPIC:P,P, got {s:?}"));
    }
    let parts = match parts {
        None => None,
        Some(p) => Some(
            p.split(',')
                .map(|x| x.trim().parse::<i32>().ok().filter(|n| *n >= 0))
                .collect::<Option<Vec<i32>>>()
                .ok_or_else(|| format!("expected partition numbers after ':', got {s:?}"))?,
        ),
    };
    Ok((topic.to_string(), parts))
}

/// Milliseconds since the epoch of an RFC 3339 time: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
pub fn parse_datetime(s: &str) -> Result<i64, String> {
    let err =
        || format!("expected an RFC 3339 time such as 2024-05-01T12:00:00Z or 2024-05-01T14:00:00.5+02:00, got {s:?}");
    let b = s.as_bytes();
    let num = |from: usize, to: usize| -> Option<i64> {
        let digits = b.get(from..to)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":") && at(16, b":")) {
        return Err(err());
    }
    let (year, month, day) = (
        num(0, 4).ok_or_else(err)?,
        num(5, 7).ok_or_else(err)?,
        num(8, 10).ok_or_else(err)?,
    );
    let (hour, minute, second) = (
        num(11, 13).ok_or_else(err)?,
        num(14, 16).ok_or_else(err)?,
        num(17, 19).ok_or_else(err)?,
    );
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&month)
        || day < 1
        || day > month_days[(month - 1) as usize]
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(err());
    }
    let mut i = 19;
    let mut millis = 0;
    if at(i, b".") {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err(err());
        }
        let frac = &s[start..i.min(start + 3)];
        millis = frac.parse::<i64>().map_err(|_| err())? * 10i64.pow(3 - frac.len() as u32);
    }
    let offset_minutes = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && at(i + 3, b":") => {
            let (h, m) = (num(i + 1, i + 3).ok_or_else(err)?, num(i + 4, i + 6).ok_or_else(err)?);
            if h > 23 || m > 59 {
                return Err(err());
            }
            if *sign == b'+' {
                h * 60 + m
            } else {
                -(h * 60 + m)
            }
        }
        _ => return Err(err()),
    };
    let days = days_from_civil(year, month, day);
    // A leap second counts as the second before it.
    let seconds = ((days * 24 + hour) * 60 + minute) * 60 + second.min(59) - offset_minutes * 60;
    Ok(seconds * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A connection to one group's coordinator that asks again while the coordinator is busy or moved.
struct Coordinator<'a> {
    client: &'a mut Client,
    group: String,
    conn: Conn,
}

impl<'a> Coordinator<'a> {
    fn find(client: &'a mut Client, group: &str) -> Result<Coordinator<'a>> {
        let conn = find_coordinator(client, group)?;
        Ok(Coordinator {
            client,
            group: group.to_string(),
            conn,
        })
    }

    /// Runs `step` until it answers something other than a retriable coordinator error (looking the
    /// coordinator up again when it moved), for at most the request timeout.
    fn ask<T>(&mut self, mut step: impl FnMut(&mut Conn) -> Result<Result<T, i16>>) -> Result<Result<T, i16>> {
        let deadline = std::time::Instant::now() + self.client.settings.timeout;
        for attempt in 0.. {
            match step(&mut self.conn)? {
                Err(code) if coordinator_retriable(code) && std::time::Instant::now() < deadline => {
                    if coordinator_moved(code) {
                        self.conn = find_coordinator(self.client, &self.group)?;
                    }
                    backoff(attempt);
                }
                other => return Ok(other),
            }
        }
        unreachable!("the loop returns")
    }

    /// The group's description; `None` if it does not exist.
    fn describe(&mut self) -> Result<Option<protocol::DescribedGroup>> {
        let group = self.group.clone();
        let answer = self.ask(|conn| {
            let d = describe_group(conn, &group)?;
            Ok(if d.error_code != 0 { Err(d.error_code) } else { Ok(d) })
        })?;
        match answer {
            Ok(d) if d.group_state != "Dead" => Ok(Some(d)),
            Ok(_) => self.describe_consumer_group(),
            Err(code) if code == ErrorCode::GroupIdNotFound.code() => self.describe_consumer_group(),
            Err(code) => bail!("cannot describe group {:?}: {}", self.group, group_problem(code)),
        }
    }

    /// A KIP-848 consumer group (ConsumerGroupDescribe), in DescribeGroups' shape: its assignor as the
    /// strategy and each member's assignment in the consumer protocol's format, so both kinds print the
    /// same way. `None` if there is no such group (or the broker has no KIP-848 groups).
    fn describe_consumer_group(&mut self) -> Result<Option<protocol::DescribedGroup>> {
        if !self.conn.versions.advertises(protocol::ApiKey::ConsumerGroupDescribe) {
            return Ok(None);
        }
        let group = self.group.clone();
        let answer = self.ask(|conn| {
            let request = protocol::ConsumerGroupDescribeRequest {
                group_ids: vec![group.clone()],
                ..Default::default()
            };
            let ResponseBody::ConsumerGroupDescribe(r) = conn.call(request)? else {
                bail!("unexpected response to ConsumerGroupDescribe");
            };
            let d = r
                .groups
                .into_iter()
                .find(|g| g.group_id == group)
                .ok_or_else(|| anyhow::anyhow!("the broker did not describe group {group:?}"))?;
            Ok(if d.error_code != 0 { Err(d.error_code) } else { Ok(d) })
        })?;
        let d = match answer {
            Ok(d) => d,
            Err(code) if code == ErrorCode::GroupIdNotFound.code() => return Ok(None),
            Err(code) => bail!("cannot describe group {:?}: {}", self.group, group_problem(code)),
        };
        Ok(Some(protocol::DescribedGroup {
            group_id: d.group_id,
            group_state: d.group_state,
            protocol_type: CONSUMER_PROTOCOL_TYPE.into(),
            protocol_data: d.assignor_name,
            members: d
                .members
                .into_iter()
                .map(|m| protocol::DescribedGroupMember {
                    member_id: m.member_id,
                    group_instance_id: m.instance_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    member_assignment: Assignment {
                        partitions: m
                            .assignment
                            .topic_partitions
                            .into_iter()
                            .map(|t| (t.topic_name, t.partitions))
                            .collect(),
                        user_data: None,
                    }
                    .encode(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }))
    }

    /// Every committed offset of the group.
    fn committed(&mut self) -> Result<Committed> {
        let group = self.group.clone();
        match self.ask(|conn| fetch_offsets(conn, &group, None))? {
            Ok(c) => Ok(c),
            Err(code) => bail!(
                "cannot read the committed offsets of group {:?}: {}",
                self.group,
                code_name(code)
            ),
        }
    }
}

fn list(mut client: Client) -> Result<()> {
    client.metadata(Some(&[]), false)?;
    let nodes: Vec<i32> = client.brokers().keys().copied().collect();
    let timeout = client.settings.timeout;
    let mut rows: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for node in nodes {
        let conn = client.leader(node)?;
        let answer = crate::group::retry_coordinator(timeout, || {
            let (version, body) = conn.call_versioned(ListGroupsRequest::default())?;
            let ResponseBody::ListGroups(r) = body else {
                bail!("unexpected response to ListGroups");
            };
            Ok(if r.error_code != 0 {
                Err(r.error_code)
            } else {
                Ok((version, r.groups))
            })
        })?;
        let (version, groups) = match answer {
            Ok(x) => x,
            Err(code) => bail!(
                "cannot list the groups of the broker at {}: {}",
                conn.addr,
                code_name(code)
            ),
        };
        for g in groups {
            // ListGroups below v4 has no state: this broker coordinates the group, so ask it.
            let state = if version >= 4 {
                g.group_state
            } else {
                describe_group(conn, &g.group_id).map_or_else(|_| "-".to_string(), |d| d.group_state)
            };
            let protocol_type = if g.protocol_type.is_empty() {
                "-".to_string()
            } else {
                g.protocol_type
            };
            rows.insert(g.group_id.clone(), vec![g.group_id, state, protocol_type]);
        }
    }
    let rows: Vec<Vec<String>> = rows.into_values().collect();
    print_table(&mut io::stdout().lock(), &["GROUP", "STATE", "PROTOCOL-TYPE"], &rows)?;
    Ok(())
}

/// One member of a described group, with its decoded assignment.
struct MemberRow {
    member_id: String,
    client_id: String,
    host: String,
    assignment: Option<Assignment>,
}

fn describe(mut client: Client, a: DescribeArgs) -> Result<()> {
    let group = a.group;
    let mut coordinator = Coordinator::find(&mut client, &group)?;
    let described = coordinator.describe()?;
    let committed = coordinator.committed()?;
    let coordinator_addr = coordinator.conn.addr.clone();
    drop(coordinator);
    let Some(d) = described.or_else(|| {
        // A group that only ever had admin commits may have offsets without a live group.
        (!committed.is_empty()).then(|| protocol::DescribedGroup {
            group_id: group.clone(),
            group_state: "Empty".into(),
            ..Default::default()
        })
    }) else {
        bail!("group {group:?} does not exist");
    };

    let members: Vec<MemberRow> = d
        .members
        .iter()
        .map(|m| MemberRow {
            member_id: m.member_id.clone(),
            client_id: m.client_id.clone(),
            host: m.client_host.clone(),
            assignment: (d.protocol_type == CONSUMER_PROTOCOL_TYPE)
                .then(|| Assignment::decode(&m.member_assignment).ok())
                .flatten(),
        })
        .collect();
    // Who owns each partition, and every partition worth a line: assigned or committed.
    let mut owner: BTreeMap<(String, i32), usize> = BTreeMap::new();
    for (i, m) in members.iter().enumerate() {
        for (t, ps) in m.assignment.iter().flat_map(|a| a.partitions.iter()) {
            for p in ps {
                owner.insert((t.clone(), *p), i);
            }
        }
    }
    let keys: BTreeSet<(String, i32)> = owner.keys().cloned().chain(committed.keys().cloned()).collect();
    let ends = log_end_offsets(&mut client, &keys)?;

    let mut out = io::stdout().lock();
    let strategy = if d.protocol_data.is_empty() {
        "-".to_string()
    } else {
        d.protocol_data.clone()
    };
    print_table(
        &mut out,
        &["GROUP", "COORDINATOR", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"],
        &[vec![
            group.clone(),
            coordinator_addr,
            strategy,
            d.group_state.clone(),
            members.len().to_string(),
        ]],
    )?;
    if d.group_state.ends_with("Rebalance") {
        writeln!(
            out,
            "Consumer group '{group}' is rebalancing: assignments are shown once it is stable."
        )?;
    }
    writeln!(out)?;
    if members.is_empty() {
        writeln!(out, "Consumer group '{group}' has no active members.")?;
    } else {
        let rows: Vec<Vec<String>> = members
            .iter()
            .map(|m| {
                vec![
                    group.clone(),
                    m.member_id.clone(),
                    m.host.clone(),
                    m.client_id.clone(),
                    m.assignment.as_ref().map_or("-".into(), |a| a.len().to_string()),
                    m.assignment.as_ref().map_or("-".into(), Assignment::display),
                ]
            })
            .collect();
        print_table(
            &mut out,
            &["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS", "ASSIGNMENT"],
            &rows,
        )?;
    }
    writeln!(out)?;
    let dash = || "-".to_string();
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|key| {
            let current = committed.get(key).map(|(o, _)| *o);
            let end = ends.get(key).copied();
            let lag = current.zip(end).map(|(c, e)| e - c);
            let m = owner.get(key).map(|&i| &members[i]);
            vec![
                group.clone(),
                key.0.clone(),
                key.1.to_string(),
                current.map_or_else(dash, |o| o.to_string()),
                end.map_or_else(dash, |o| o.to_string()),
                lag.map_or_else(dash, |o| o.to_string()),
                m.map_or_else(dash, |m| m.member_id.clone()),
                m.map_or_else(dash, |m| m.host.clone()),
                m.map_or_else(dash, |m| m.client_id.clone()),
            ]
        })
        .collect();
    print_table(
        &mut out,
        &[
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID",
        ],
        &rows,
    )?;
    Ok(())
}

/// The log end offsets (ListOffsets latest) of some partitions; partitions of topics that no longer
/// exist are left out.
fn log_end_offsets(client: &mut Client, keys: &BTreeSet<(String, i32)>) -> Result<BTreeMap<(String, i32), i64>> {
    let topics: Vec<String> = keys
        .iter()
        .map(|(t, _)| t.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out = BTreeMap::new();
    if topics.is_empty() {
        return Ok(out);
    }
    let m = client.metadata(Some(&topics), false)?;
    for t in m.topics.into_iter().filter(|t| t.error_code == 0) {
        let info = crate::client::topic_info(t);
        let wanted: Vec<PartitionInfo> = info
            .partitions
            .into_iter()
            .filter(|p| keys.contains(&(info.name.clone(), p.partition)))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        for (p, o) in client.list_offsets(&info.name, &wanted, -1)? {
            out.insert((info.name.clone(), p), o);
        }
    }
    Ok(out)
}

fn delete(mut client: Client, a: DeleteArgs) -> Result<()> {
    let mut failed = None;
    for group in &a.groups {
        let mut coordinator = Coordinator::find(&mut client, group)?;
        let answer = coordinator.ask(|conn| {
            let request = DeleteGroupsRequest {
                groups_names: vec![group.clone()],
                ..Default::default()
            };
            let ResponseBody::DeleteGroups(r) = conn.call(request)? else {
                bail!("unexpected response to DeleteGroups");
            };
            let code = r
                .results
                .iter()
                .find(|g| g.group_id == *group)
                .map_or(ErrorCode::UnknownServerError.code(), |g| g.error_code);
            Ok(if code == 0 { Ok(()) } else { Err(code) })
        })?;
        match answer {
            Ok(()) => writeln!(io::stdout(), "Deleted group {group}.")?,
            Err(code) => {
                failed.get_or_insert(format!("cannot delete group {group:?}: {}", group_problem(code)));
            }
        }
    }
    match failed {
        Some(e) => bail!("{e}"),
        None => Ok(()),
    }
}

fn reset_offsets(mut client: Client, a: ResetArgs) -> Result<()> {
    let group = a.group.clone();
    // Which partitions, checked before anything else.
    let mut targets: Vec<(String, Vec<PartitionInfo>)> = Vec::new();
    for (topic, parts) in &a.topics {
        let info = client.topic(topic, false)?;
        let chosen = match parts {
            None => info.partitions.clone(),
            Some(ps) => {
                let mut v = Vec::new();
                for p in ps {
                    match info.partitions.iter().find(|x| x.partition == *p) {
                        Some(x) => v.push(x.clone()),
                        None => bail!(
                            "topic {topic:?} has no partition {p} (it has {} partitions)",
                            info.partitions.len()
                        ),
                    }
                }
                v
            }
        };
        targets.push((topic.clone(), chosen));
    }

    let mut coordinator = Coordinator::find(&mut client, &group)?;
    if let Some(d) = coordinator.describe()? {
        if d.group_state != "Empty" {
            bail!(
                "cannot reset the offsets of group {group:?}: it has {} active member(s) (state {}); \
                 offsets can only be reset while the group is inactive, so stop its consumers first",
                d.members.len(),
                d.group_state
            );
        }
    }
    drop(coordinator);

    let mut plan: Vec<(String, Vec<OffsetToCommit>)> = Vec::new();
    for (topic, partitions) in &targets {
        let offsets = if let Some(n) = a.to_offset {
            let start = client.list_offsets(topic, partitions, -2)?;
            let end = client.list_offsets(topic, partitions, -1)?;
            partitions
                .iter()
                .map(|p| (p.partition, n.clamp(start[&p.partition], end[&p.partition])))
                .collect::<BTreeMap<i32, i64>>()
        } else if let Some(ts) = a.to_datetime {
            let found = client.list_offsets(topic, partitions, ts)?;
            let end = client.list_offsets(topic, partitions, -1)?;
            found
                .into_iter()
                .map(|(p, o)| (p, if o < 0 { end[&p] } else { o }))
                .collect()
        } else {
            client.list_offsets(topic, partitions, if a.to_earliest { -2 } else { -1 })?
        };
        plan.push((
            topic.clone(),
            offsets
                .into_iter()
                .map(|(partition, offset)| OffsetToCommit {
                    partition,
                    offset,
                    leader_epoch: -1,
                })
                .collect(),
        ));
    }

    if a.execute {
        let mut coordinator = Coordinator::find(&mut client, &group)?;
        for (topic, offsets) in &plan {
            let answer = coordinator.ask(|conn| {
                let codes = commit_offsets(conn, &group, -1, "", topic, offsets)?;
                Ok(match codes.iter().find(|(_, c)| *c != 0) {
                    Some(&(_, c)) => Err(c),
                    None => Ok(()),
                })
            })?;
            if let Err(code) = answer {
                if code == ErrorCode::UnknownMemberId.code() || code == ErrorCode::RebalanceInProgress.code() {
                    bail!(
                        "cannot reset the offsets of group {group:?}: a member joined it meanwhile ({})",
                        code_name(code)
                    );
                }
                bail!(
                    "cannot commit the offsets of {topic:?} for group {group:?}: {}",
                    code_name(code)
                );
            }
        }
    }
    let rows: Vec<Vec<String>> = plan
        .iter()
        .flat_map(|(topic, offsets)| {
            offsets.iter().map(|o| {
                vec![
                    group.clone(),
                    topic.clone(),
                    o.partition.to_string(),
                    o.offset.to_string(),
                ]
            })
        })
        .collect();
    print_table(
        &mut io::stdout().lock(),
        &["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"],
        &rows,
    )?;
    if !a.execute {
        writeln!(
            io::stderr(),
            "dry run: nothing was committed; add --execute to commit these offsets"
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
