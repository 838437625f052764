//! Deterministic simulation of one partition replicated on 3 (sometimes 5) brokers with a model
//! controller, a lossy network and crashing disks, driven by a seeded PRNG. After every step it checks:
//!
//! - (a) every record acknowledged with `acks=all` is in the log of the controller's current leader, at
//!   its offset (with the same epoch and payload);
//! - (b) all replicas agree at every offset below their high watermark (checked against the first copy
//!   any replica committed at that offset);
//! - (c) a replica's high watermark never goes back (it is persisted, so not even across a restart) and
//!   never passes its log end; no truncation or crash removes records below it;
//! - (d) no two leaders (broker incarnations) append in the same leader epoch;
//! - (e) after the faulty steps, once the network heals and every broker is back (no more faults or
//!   losses), all replicas converge: they follow the controller's leader, hold identical logs and have
//!   them committed (a truncation rule that loops forever breaks only this one).
//!
//! Disk model: followers flush every append before their next fetch (their fetch offset is durable);
//! the leader appends to an unflushed tail and flushes at random steps, and reports only its flushed
//! log end to [`LeaderState`] (`LocalAppend`), so `acks=all` acknowledges only data flushed on every
//! member of the maximal ISR. A crash loses the unflushed tail and all in-memory state; the broker comes
//! back with a new incarnation (messages sent to the old one are lost) and registers fenced.
//!
//! Replay one seed, printing its schedule: `KZERO_SIM_SEED=<n> cargo test -p replication --test it --
//! --nocapture`. `KZERO_SIM_SEEDS=<n>` changes how many seeds the default run covers.

use std::collections::BTreeMap;

use replication::{
    check_leader_epoch, diverging_epoch, AckOutcome, EpochCheck, EpochEndOffset, EpochHistory, FetchPosition,
    FetchResponse, Follower, FollowerAction, IsrProposal, LeaderAction, LeaderConfig, LeaderEvent, LeaderState,
    NewLeader,
};

const STEPS: u64 = 400;
/// At most this many fault-free steps for the replicas to converge afterwards.
const CONVERGENCE_STEPS: u64 = 2000;
const DEFAULT_SEEDS: u64 = 5000;
const STEP_MS: u64 = 50;
const MAX_RECORDS_PER_FETCH: usize = 4;

/// SplitMix64.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Record {
    epoch: i32,
    payload: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PartitionState {
    leader: Option<usize>,
    leader_epoch: i32,
    partition_epoch: i32,
    isr: Vec<i32>,
}

#[derive(Debug, Clone)]
enum Msg {
    Fetch(u64, FetchPosition),
    FetchRecords {
        request: u64,
        leader_epoch: i32,
        fetch_offset: i64,
        records: Vec<Record>,
        high_watermark: i64,
    },
    FetchDiverging {
        request: u64,
        leader_epoch: i32,
        fetch_offset: i64,
        diverging: EpochEndOffset,
    },
    AlterPartition(IsrProposal),
    AlterPartitionOk(PartitionState),
    AlterPartitionNotApplied(u64),
    Metadata(PartitionState),
}

#[derive(Debug)]
struct Envelope {
    from: usize,
    to: usize,
    to_incarnation: u32,
    deliver_at: u64,
    seq: u64,
    msg: Msg,
}

#[derive(Debug)]
struct LeaderNode {
    state: LeaderState,
    /// (required offset, offset) of each waiting `acks=all` produce.
    waiting: Vec<(i64, usize)>,
    proposal_sent_at: u64,
}

#[derive(Debug)]
enum Role {
    Idle,
    Leader(Box<LeaderNode>),
    /// `in_flight`: the (request id, step sent) of the one fetch the follower waits for; an answer to any
    /// other request is dropped (a timed-out request is abandoned, as a closed connection would).
    Follower {
        follower: Follower,
        in_flight: Option<(u64, u64)>,
    },
}

#[derive(Debug)]
struct Node {
    up: bool,
    incarnation: u32,
    log: Vec<Record>,
    flushed: usize,
    epochs: EpochHistory,
    /// The published high watermark (persisted on every change).
    hw: i64,
    role: Role,
    known_epoch: i32,
    /// Offsets below this were compared with `committed` (the high watermark they were checked at).
    checked: usize,
}

#[derive(Debug)]
struct Controller {
    replicas: Vec<i32>,
    state: PartitionState,
    fenced: Vec<bool>,
}

impl Controller {
    /// First replica in assignment order that is in the ISR and not fenced.
    fn candidate(&self) -> Option<usize> {
        self.replicas
            .iter()
            .map(|r| *r as usize)
            .find(|r| self.state.isr.contains(&(*r as i32)) && !self.fenced[*r])
    }

    /// Removes a broker from the ISR (never emptying it) and moves its leadership. True if the state changed.
    fn fence(&mut self, id: usize) -> bool {
        if self.fenced[id] {
            return false;
        }
        self.fenced[id] = true;
        let mut changed = false;
        if self.state.isr.len() > 1 && self.state.isr.contains(&(id as i32)) {
            self.state.isr.retain(|r| *r != id as i32);
            changed = true;
        }
        if self.state.leader == Some(id) {
            self.state.leader = self.candidate();
            self.state.leader_epoch += 1;
            changed = true;
        }
        if changed {
            self.state.partition_epoch += 1;
        }
        changed
    }

    fn unfence(&mut self, id: usize) -> bool {
        if !self.fenced[id] {
            return false;
        }
        self.fenced[id] = false;
        if self.state.leader.is_none() {
            if let Some(l) = self.candidate() {
                self.state.leader = Some(l);
                self.state.leader_epoch += 1;
                self.state.partition_epoch += 1;
                return true;
            }
        }
        false
    }

    /// `ReplicationControlManager.alterPartition`'s checks; `Err(true)` means "not applied" (answered with
    /// INELIGIBLE_REPLICA), `Err(false)` an error after which the leader waits for metadata.
    fn alter_partition(&mut self, from: usize, p: &IsrProposal) -> Result<(), bool> {
        let s = &mut self.state;
        assert!(
            p.leader_epoch <= s.leader_epoch && p.partition_epoch <= s.partition_epoch,
            "NOT_CONTROLLER: a leader knows epochs the controller never issued: {p:?} vs {s:?}"
        );
        if p.leader_epoch < s.leader_epoch || s.leader != Some(from) || p.partition_epoch < s.partition_epoch {
            return Err(false);
        }
        let mut sorted = p.isr.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert!(
            sorted.len() == p.isr.len()
                && p.isr.contains(&(from as i32))
                && p.isr.iter().all(|r| self.replicas.contains(r)),
            "INVALID_REQUEST: a malformed ISR proposal {p:?}"
        );
        if p.isr.iter().any(|r| self.fenced[*r as usize]) {
            return Err(true);
        }
        s.isr = p.isr.clone();
        s.partition_epoch += 1;
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Stats {
    acked: u64,
    elections: u64,
    truncations: u64,
    isr_changes: u64,
    refused_min_isr: u64,
}

#[derive(Debug)]
struct Sim {
    seed: u64,
    rng: Rng,
    n: usize,
    config: LeaderConfig,
    nodes: Vec<Node>,
    ctrl: Controller,
    net: Vec<Envelope>,
    seq: u64,
    step: u64,
    now_ms: u64,
    /// Side of each broker (index n: the controller) while the network is partitioned.
    cut: Option<Vec<bool>>,
    next_payload: u64,
    acked: Vec<(usize, Record)>,
    /// The first copy any replica held below its high watermark, per offset.
    committed: Vec<Record>,
    /// Leader epoch -> (broker, incarnation) that appended in it.
    writers: BTreeMap<i32, (usize, u32)>,
    trace: bool,
    /// The convergence phase: no more faults, no message loss.
    quiet: bool,
    stats: Stats,
}

impl Sim {
    fn new(seed: u64, trace: bool) -> Sim {
        let mut rng = Rng(seed);
        let n = if rng.chance(20) { 5 } else { 3 };
        let config = LeaderConfig {
            replica_lag_time_max_ms: [300, 1000, 3000][rng.below(3) as usize],
            min_insync_replicas: 1 + rng.below(2) as usize,
        };
        let replicas: Vec<i32> = (0..n as i32).collect();
        let state = PartitionState {
            leader: Some(0),
            leader_epoch: 0,
            partition_epoch: 0,
            isr: replicas.clone(),
        };
        let nodes = (0..n)
            .map(|_| Node {
                up: true,
                incarnation: 0,
                log: Vec::new(),
                flushed: 0,
                epochs: EpochHistory::new(),
                hw: 0,
                role: Role::Idle,
                known_epoch: -1,
                checked: 0,
            })
            .collect();
        let mut sim = Sim {
            seed,
            rng,
            n,
            config,
            nodes,
            ctrl: Controller {
                replicas,
                state,
                fenced: vec![false; n],
            },
            net: Vec::new(),
            seq: 0,
            step: 0,
            now_ms: 1_000_000,
            cut: None,
            next_payload: 1,
            acked: Vec::new(),
            committed: Vec::new(),
            writers: BTreeMap::new(),
            trace,
            quiet: false,
            stats: Stats::default(),
        };
        sim.log(format!("{n} replicas, {config:?}"));
        for i in 0..n {
            let state = sim.ctrl.state.clone();
            sim.apply_metadata(i, state);
        }
        sim
    }

    fn log(&self, line: String) {
        if self.trace {
            println!("[seed {} step {} t={}] {line}", self.seed, self.step, self.now_ms);
        }
    }

    fn fail(&self, what: String) -> ! {
        panic!("seed {} step {}: {what}", self.seed, self.step)
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        self.cut.as_ref().is_none_or(|side| side[a] == side[b])
    }

    fn send(&mut self, from: usize, to: usize, msg: Msg) {
        let delay = if self.rng.chance(10) {
            1 + self.rng.below(8)
        } else {
            1 + self.rng.below(3)
        };
        let to_incarnation = if to == self.n { 0 } else { self.nodes[to].incarnation };
        self.seq += 1;
        self.net.push(Envelope {
            from,
            to,
            to_incarnation,
            deliver_at: self.step + delay,
            seq: self.seq,
            msg,
        });
    }

    fn broadcast_metadata(&mut self) {
        for i in 0..self.n {
            let state = self.ctrl.state.clone();
            self.send(self.n, i, Msg::Metadata(state));
        }
    }

    // ---- brokers -------------------------------------------------------------------------------------

    fn apply_metadata(&mut self, i: usize, state: PartitionState) {
        let node = &mut self.nodes[i];
        if !node.up || state.leader_epoch < node.known_epoch {
            return;
        }
        if state.leader_epoch == node.known_epoch {
            if let Role::Leader(l) = &mut node.role {
                let actions = l.state.handle(LeaderEvent::IsrCommitted {
                    isr: state.isr,
                    partition_epoch: state.partition_epoch,
                    now_ms: self.now_ms,
                });
                self.leader_actions(i, actions);
            }
            return;
        }
        node.known_epoch = state.leader_epoch;
        let len = node.log.len() as i64;
        match state.leader {
            Some(l) if l == i => {
                // Kafka's makeLeader: the epoch starts at the log end. The simulated leader flushes first.
                node.flushed = node.log.len();
                node.epochs.assign(state.leader_epoch, len);
                let init = NewLeader {
                    local: i as i32,
                    replicas: self.ctrl.replicas.clone(),
                    isr: state.isr.clone(),
                    leader_epoch: state.leader_epoch,
                    partition_epoch: state.partition_epoch,
                    log_end_offset: len,
                    high_watermark: node.hw,
                    now_ms: self.now_ms,
                };
                let leader = LeaderState::new(init, self.config);
                node.hw = leader.high_watermark();
                node.role = Role::Leader(Box::new(LeaderNode {
                    state: leader,
                    waiting: Vec::new(),
                    proposal_sent_at: 0,
                }));
                self.stats.elections += 1;
                self.log(format!(
                    "broker {i} leads epoch {} with isr {:?}",
                    state.leader_epoch, state.isr
                ));
            }
            Some(l) => {
                // A follower's fetch offset is durable: a former leader flushes its tail first.
                node.flushed = node.log.len();
                let follower = Follower::new(i as i32, l as i32, state.leader_epoch, 0, len, node.hw);
                node.role = Role::Follower {
                    follower,
                    in_flight: None,
                };
                self.log(format!("broker {i} follows {l} in epoch {}", state.leader_epoch));
            }
            None => {
                node.role = Role::Idle;
                self.log(format!("broker {i}: no leader in epoch {}", state.leader_epoch));
            }
        }
    }

    fn leader_actions(&mut self, i: usize, actions: Vec<LeaderAction>) {
        for action in actions {
            match action {
                LeaderAction::HighWatermark(hw) => {
                    self.nodes[i].hw = hw;
                    self.complete_produces(i);
                }
                LeaderAction::ProposeIsr(p) => {
                    self.log(format!("broker {i} proposes isr {:?} (id {})", p.isr, p.id));
                    if let Role::Leader(l) = &mut self.nodes[i].role {
                        l.proposal_sent_at = self.step;
                    }
                    self.send(i, self.n, Msg::AlterPartition(p));
                }
            }
        }
    }

    fn complete_produces(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let Role::Leader(l) = &mut node.role else { return };
        let mut acked = Vec::new();
        l.waiting
            .retain(|&(required, offset)| match l.state.acks_all_complete(required) {
                None => true,
                Some(AckOutcome::Ok) => {
                    acked.push((offset, node.log[offset]));
                    false
                }
                Some(AckOutcome::NotEnoughReplicasAfterAppend) => false,
            });
        for (offset, record) in acked {
            self.log(format!("ack offset {offset} {record:?}"));
            self.stats.acked += 1;
            self.acked.push((offset, record));
        }
    }

    fn produce(&mut self, i: usize, acks_all: bool) {
        let node = &mut self.nodes[i];
        let Role::Leader(l) = &mut node.role else { return };
        if acks_all && l.state.check_min_isr_for_acks_all().is_err() {
            self.stats.refused_min_isr += 1;
            return;
        }
        let epoch = l.state.leader_epoch();
        let record = Record {
            epoch,
            payload: self.next_payload,
        };
        self.next_payload += 1;
        let offset = node.log.len();
        node.log.push(record);
        node.epochs.assign(epoch, offset as i64);
        if acks_all {
            l.waiting.push((offset as i64 + 1, offset));
        }
        let writer = (i, node.incarnation);
        if let Some(previous) = self.writers.insert(epoch, writer) {
            if previous != writer {
                self.fail(format!(
                    "(d) epoch {epoch} has two leaders: {previous:?} and {writer:?}"
                ));
            }
        }
        self.log(format!(
            "broker {i} appends {record:?} at {offset} (acks={})",
            if acks_all { "all" } else { "1" }
        ));
    }

    fn truncate(&mut self, i: usize, offset: usize) {
        let checked = self.nodes[i].checked;
        if offset < checked {
            self.fail(format!(
                "(c) broker {i} truncates to {offset}, below the high watermark {checked} it reached"
            ));
        }
        let node = &mut self.nodes[i];
        if offset < node.log.len() {
            self.stats.truncations += 1;
        }
        node.log.truncate(offset);
        node.flushed = node.flushed.min(offset);
        node.epochs.truncate_from_end(offset as i64);
        self.log(format!("broker {i} truncates to {offset}"));
    }

    fn deliver(&mut self, e: Envelope) {
        let i = e.to;
        if i == self.n {
            return self.controller_receive(e.from, e.msg);
        }
        if !self.nodes[i].up || self.nodes[i].incarnation != e.to_incarnation {
            return;
        }
        match e.msg {
            Msg::Metadata(state) | Msg::AlterPartitionOk(state) => self.apply_metadata(i, state),
            Msg::AlterPartitionNotApplied(id) => {
                if let Role::Leader(l) = &mut self.nodes[i].role {
                    let actions = l.state.handle(LeaderEvent::IsrRejected {
                        proposal_id: id,
                        now_ms: self.now_ms,
                    });
                    self.leader_actions(i, actions);
                }
            }
            Msg::Fetch(request, pos) => self.serve_fetch(i, e.from, request, pos),
            Msg::FetchRecords {
                request,
                leader_epoch,
                fetch_offset,
                records,
                high_watermark,
            } => {
                let response = FetchResponse::Records {
                    leader_epoch,
                    fetch_offset,
                    next_offset: fetch_offset + records.len() as i64,
                    high_watermark,
                    log_start_offset: 0,
                };
                self.follower_response(i, request, response, &records);
            }
            Msg::FetchDiverging {
                request,
                leader_epoch,
                fetch_offset,
                diverging,
            } => {
                let response = FetchResponse::Diverging {
                    leader_epoch,
                    fetch_offset,
                    diverging,
                };
                self.follower_response(i, request, response, &[]);
            }
            Msg::AlterPartition(_) => unreachable!("sent to the controller only"),
        }
    }

    fn serve_fetch(&mut self, i: usize, from: usize, request: u64, pos: FetchPosition) {
        let node = &mut self.nodes[i];
        let Role::Leader(l) = &mut node.role else { return };
        let epoch = l.state.leader_epoch();
        if check_leader_epoch(epoch, pos.current_leader_epoch) != EpochCheck::Ok || pos.current_leader_epoch < 0 {
            return; // FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH: the follower waits for metadata
        }
        let len = node.log.len() as i64;
        if let Some(diverging) = diverging_epoch(&node.epochs, len, pos.fetch_offset, pos.last_fetched_epoch) {
            let msg = Msg::FetchDiverging {
                request,
                leader_epoch: epoch,
                fetch_offset: pos.fetch_offset,
                diverging,
            };
            return self.send(i, from, msg);
        }
        if pos.fetch_offset > len {
            self.fail(format!(
                "broker {from} fetches from {} beyond leader {i}'s log end {len} without diverging",
                pos.fetch_offset
            ));
        }
        let actions = l
            .state
            .follower_fetch(from as i32, pos.fetch_offset, self.now_ms)
            .unwrap_or_else(|e| panic!("{e}"));
        let start = pos.fetch_offset as usize;
        let end = node.log.len().min(start + MAX_RECORDS_PER_FETCH);
        let records = node.log[start..end].to_vec();
        let msg = Msg::FetchRecords {
            request,
            leader_epoch: epoch,
            fetch_offset: pos.fetch_offset,
            records,
            high_watermark: l.state.high_watermark(),
        };
        self.leader_actions(i, actions);
        self.send(i, from, msg);
    }

    fn follower_response(&mut self, i: usize, request: u64, response: FetchResponse, records: &[Record]) {
        let node = &mut self.nodes[i];
        let Role::Follower { follower, in_flight } = &mut node.role else {
            return;
        };
        if in_flight.is_none_or(|(id, _)| id != request) {
            return;
        }
        *in_flight = None;
        let actions = follower.handle(&node.epochs, response);
        let hw = follower.high_watermark();
        for action in actions {
            match action {
                FollowerAction::Truncate { offset } => self.truncate(i, offset as usize),
                FollowerAction::Append { log_end_offset } => {
                    let node = &mut self.nodes[i];
                    let FetchResponse::Records { fetch_offset, .. } = response else {
                        unreachable!()
                    };
                    assert_eq!(node.log.len() as i64, fetch_offset, "appends start at the log end");
                    for r in records {
                        let offset = node.log.len() as i64;
                        node.log.push(*r);
                        node.epochs.assign(r.epoch, offset);
                    }
                    assert_eq!(node.log.len() as i64, log_end_offset);
                    node.flushed = node.log.len();
                }
                FollowerAction::HighWatermark(_) | FollowerAction::LogStartOffset(_) => {}
            }
        }
        self.nodes[i].hw = hw;
    }

    // ---- controller ----------------------------------------------------------------------------------

    fn controller_receive(&mut self, from: usize, msg: Msg) {
        let Msg::AlterPartition(p) = msg else {
            unreachable!("the controller only receives AlterPartition")
        };
        match self.ctrl.alter_partition(from, &p) {
            Ok(()) => {
                self.stats.isr_changes += 1;
                self.log(format!("controller commits isr {:?} ({:?})", p.isr, self.ctrl.state));
                let state = self.ctrl.state.clone();
                self.send(self.n, from, Msg::AlterPartitionOk(state));
                self.broadcast_metadata();
            }
            Err(true) => self.send(self.n, from, Msg::AlterPartitionNotApplied(p.id)),
            Err(false) => {}
        }
    }

    fn controller_step(&mut self) {
        let mut changed = false;
        for i in 0..self.n {
            let reachable = self.nodes[i].up && self.connected(i, self.n);
            if !reachable && !self.ctrl.fenced[i] && self.rng.chance(20) {
                changed |= self.ctrl.fence(i);
                self.log(format!("controller fences {i}: {:?}", self.ctrl.state));
            } else if reachable && self.ctrl.fenced[i] && self.rng.chance(30) {
                changed |= self.ctrl.unfence(i);
                self.log(format!("controller unfences {i}: {:?}", self.ctrl.state));
            }
        }
        if changed || self.step % 5 == 0 {
            self.broadcast_metadata();
        }
    }

    fn force_leader_change(&mut self) {
        let s = &self.ctrl.state;
        let candidates: Vec<usize> = s
            .isr
            .iter()
            .map(|r| *r as usize)
            .filter(|r| Some(*r) != s.leader && !self.ctrl.fenced[*r])
            .collect();
        if candidates.is_empty() {
            return;
        }
        let pick = candidates[self.rng.below(candidates.len() as u64) as usize];
        let s = &mut self.ctrl.state;
        s.leader = Some(pick);
        s.leader_epoch += 1;
        s.partition_epoch += 1;
        self.log(format!("controller moves leadership to {pick}: {:?}", self.ctrl.state));
        self.broadcast_metadata();
    }

    // ---- the schedule --------------------------------------------------------------------------------

    fn crash(&mut self, i: usize) {
        let (flushed, hw) = (self.nodes[i].flushed, self.nodes[i].hw);
        if (flushed as i64) < hw {
            self.fail(format!(
                "(c) broker {i} would lose data below its high watermark {hw} (flushed {flushed})"
            ));
        }
        let node = &mut self.nodes[i];
        node.up = false;
        node.log.truncate(node.flushed);
        node.role = Role::Idle;
        node.known_epoch = -1;
        // Recovery rebuilds the epoch cache from the batches.
        node.epochs = EpochHistory::new();
        for (offset, r) in node.log.iter().enumerate() {
            node.epochs.assign(r.epoch, offset as i64);
        }
        self.log(format!(
            "broker {i} crashes; its log keeps {} records",
            self.nodes[i].log.len()
        ));
    }

    fn restart(&mut self, i: usize) {
        // Connections die with the process: what was sent to the old incarnation (even while it was down)
        // is never delivered.
        self.nodes[i].up = true;
        self.nodes[i].incarnation += 1;
        // A new registration starts fenced.
        if self.ctrl.fence(i) {
            self.broadcast_metadata();
        }
        self.log(format!("broker {i} restarts: {:?}", self.ctrl.state));
    }

    fn step(&mut self) {
        self.step += 1;
        self.now_ms += STEP_MS;
        let n = self.n;

        // The schedule.
        let roll = if self.quiet { 1000 } else { self.rng.below(1000) };
        let up: Vec<usize> = (0..n).filter(|i| self.nodes[*i].up).collect();
        let down: Vec<usize> = (0..n).filter(|i| !self.nodes[*i].up).collect();
        if roll < 15 && up.len() > 1 {
            let i = up[self.rng.below(up.len() as u64) as usize];
            self.crash(i);
        } else if roll < 80 && !down.is_empty() {
            let i = down[self.rng.below(down.len() as u64) as usize];
            self.restart(i);
        } else if roll < 95 && self.cut.is_none() {
            let side: Vec<bool> = (0..=n).map(|_| self.rng.chance(50)).collect();
            self.log(format!("network partition {side:?}"));
            self.cut = Some(side);
        } else if roll < 140 && self.cut.is_some() {
            self.log("network heals".into());
            self.cut = None;
        } else if roll < 150 {
            self.force_leader_change();
        }
        // Clients: produce to a broker that believes it leads (maybe a stale one).
        let leaders: Vec<usize> = (0..n)
            .filter(|i| self.nodes[*i].up && matches!(self.nodes[*i].role, Role::Leader(_)))
            .collect();
        if !leaders.is_empty() && !self.quiet && self.rng.chance(60) {
            let i = leaders[self.rng.below(leaders.len() as u64) as usize];
            let acks_all = self.rng.chance(75);
            self.produce(i, acks_all);
        }

        // The network.
        let mut due = Vec::new();
        let mut i = 0;
        while i < self.net.len() {
            if self.net[i].deliver_at <= self.step {
                due.push(self.net.swap_remove(i));
            } else {
                i += 1;
            }
        }
        due.sort_by_key(|e| (e.deliver_at, e.seq));
        for e in due {
            if self.connected(e.from, e.to) && (self.quiet || !self.rng.chance(3)) {
                self.deliver(e);
            }
        }

        // Brokers' timers.
        for i in 0..n {
            if !self.nodes[i].up {
                continue;
            }
            let now_ms = self.now_ms;
            let step = self.step;
            let flush = self.rng.chance(50);
            let node = &mut self.nodes[i];
            match &mut node.role {
                Role::Idle => {}
                Role::Leader(l) => {
                    let mut actions = l.state.handle(LeaderEvent::Tick { now_ms });
                    if flush {
                        node.flushed = node.log.len();
                        actions.extend(l.state.handle(LeaderEvent::LocalAppend {
                            log_end_offset: node.flushed as i64,
                            now_ms,
                        }));
                    }
                    let resend = match l.state.pending_proposal() {
                        Some(p) if step - l.proposal_sent_at >= 6 => Some(p.clone()),
                        _ => None,
                    };
                    if let Some(p) = resend {
                        l.proposal_sent_at = step;
                        self.send(i, n, Msg::AlterPartition(p));
                    }
                    self.leader_actions(i, actions);
                }
                Role::Follower { follower, in_flight } => {
                    if in_flight.is_none_or(|(_, at)| step - at >= 4) {
                        self.seq += 1;
                        let request = self.seq;
                        *in_flight = Some((request, step));
                        let pos = follower.fetch_position(&node.epochs);
                        let to = pos.leader as usize;
                        self.send(i, to, Msg::Fetch(request, pos));
                    }
                }
            }
        }
        self.controller_step();
        self.check();
    }

    // ---- invariants ----------------------------------------------------------------------------------

    /// Every broker follows the controller's leader, holds the same log and has it all committed.
    fn converged(&self) -> bool {
        let Some(l) = self.ctrl.state.leader else { return false };
        let leader = &self.nodes[l];
        let epoch = self.ctrl.state.leader_epoch;
        self.nodes.iter().enumerate().all(|(i, node)| {
            let role_ok = match &node.role {
                Role::Leader(s) => i == l && s.state.leader_epoch() == epoch,
                Role::Follower { follower, .. } => follower.leader() == l as i32 && follower.leader_epoch() == epoch,
                Role::Idle => false,
            };
            role_ok && node.log == leader.log && node.hw == leader.log.len() as i64
        })
    }

    fn check(&mut self) {
        for i in 0..self.n {
            let node = &self.nodes[i];
            let hw = node.hw;
            if hw < node.checked as i64 {
                self.fail(format!(
                    "(c) broker {i}'s high watermark went back from {} to {hw}",
                    node.checked
                ));
            }
            if hw > node.log.len() as i64 {
                self.fail(format!(
                    "(c) broker {i}'s high watermark {hw} is past its log end {}",
                    node.log.len()
                ));
            }
            let role_hw = match &node.role {
                Role::Leader(l) => Some(l.state.high_watermark()),
                Role::Follower { follower, .. } => Some(follower.high_watermark()),
                Role::Idle => None,
            };
            if role_hw.is_some_and(|h| h != hw) {
                self.fail(format!("broker {i} published {hw}, its state machine has {role_hw:?}"));
            }
            for offset in node.checked..hw as usize {
                let record = node.log[offset];
                match self.committed.get(offset) {
                    None => self.committed.push(record),
                    Some(c) if *c == record => {}
                    Some(c) => self.fail(format!(
                        "(b) broker {i} has {record:?} at offset {offset} below its high watermark {hw}, \
                         another replica committed {c:?}"
                    )),
                }
            }
            self.nodes[i].checked = hw as usize;
        }
        if let Some(l) = self.ctrl.state.leader {
            let log = &self.nodes[l].log;
            for (offset, record) in &self.acked {
                if log.get(*offset) != Some(record) {
                    self.fail(format!(
                        "(a) acknowledged {record:?} at {offset} is not in leader {l}'s log (it has {:?})",
                        log.get(*offset)
                    ));
                }
            }
        }
    }
}

fn run(seed: u64, trace: bool) -> Stats {
    let mut sim = Sim::new(seed, trace);
    for _ in 0..STEPS {
        sim.step();
    }
    // (e) Liveness: once the network heals and every broker is back, the replicas converge.
    sim.quiet = true;
    sim.cut = None;
    sim.log("convergence phase: the network heals, every broker restarts".into());
    for i in 0..sim.n {
        if !sim.nodes[i].up {
            sim.restart(i);
        }
    }
    for _ in 0..CONVERGENCE_STEPS {
        sim.step();
        if sim.converged() {
            return sim.stats;
        }
    }
    let logs: Vec<(usize, i64, &Role)> = sim.nodes.iter().map(|n| (n.log.len(), n.hw, &n.role)).collect();
    sim.fail(format!(
        "(e) the replicas did not converge within {CONVERGENCE_STEPS} quiet steps: {:?}, {logs:#?}",
        sim.ctrl.state
    ))
}

#[test]
fn simulated_replication_keeps_its_invariants() {
    if let Ok(seed) = std::env::var("KZERO_SIM_SEED") {
        let seed: u64 = seed.parse().expect("KZERO_SIM_SEED is a number");
        let stats = run(seed, true);
        println!("seed {seed}: {stats:?}");
        return;
    }
    let seeds: u64 = std::env::var("KZERO_SIM_SEEDS").map_or(DEFAULT_SEEDS, |s| s.parse().expect("a number"));
    let started = std::time::Instant::now();
    let mut total = Stats::default();
    for seed in 0..seeds {
        let outcome = std::panic::catch_unwind(|| run(seed, false));
        match outcome {
            Ok(s) => {
                total.acked += s.acked;
                total.elections += s.elections;
                total.truncations += s.truncations;
                total.isr_changes += s.isr_changes;
                total.refused_min_isr += s.refused_min_isr;
            }
            Err(_) => panic!(
                "the simulation failed with seed {seed}; replay it with \
                 KZERO_SIM_SEED={seed} cargo test -p replication --test it -- --nocapture"
            ),
        }
    }
    println!("{seeds} seeds x {STEPS} steps in {:?}: {total:?}", started.elapsed());
    // The schedules must exercise the rules, not just pass vacuously.
    assert!(total.acked > seeds * 10, "{total:?}");
    assert!(total.elections > seeds * 2, "{total:?}");
    assert!(total.truncations > seeds / 10, "{total:?}");
    assert!(total.isr_changes > seeds, "{total:?}");
}
