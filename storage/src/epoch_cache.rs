//! The leader-epoch cache of one partition log (Kafka's `LeaderEpochFileCache`) and the text of its
//! `leader-epoch-checkpoint` file.
//!
//! It owns the ordered list of `(epoch, start_offset)` entries, the first offset of each leader epoch
//! that has batches in the log, and the rules that change and query it: assignment from appended
//! batches, truncation from the end (a follower diverging) and from the start (retention, DeleteRecords),
//! and `endOffsetFor` (what OffsetForLeaderEpoch and a fetch's `DivergingEpoch` answer).
//! It also parses and formats the checkpoint file's text:
//!
//! ```text
//! 0           version
//! 2           entry count
//! 0 0         epoch start_offset
//! 3 1500
//! ```
//!
//! It must never do IO, take a lock, or look at a record: it is plain data that [`crate::Log`] keeps
//! under its own lock, next to the segments, and the log decides when the file is written and synced.
//! On the append path it must cost no more than a comparison with the latest epoch, which is why the
//! entries live in a `Vec` whose last element is the latest epoch.
//!
//! # When the file is written and synced
//!
//! The log writes the file (a temporary file renamed over the old one) whenever the entries change: an
//! epoch assigned by an append, a truncation at either end, a repair at open. None of those writes syncs
//! it on the spot.
//!
//! - **Assignments are synced with the data.** An assignment happens inside an append, under the log's
//!   write lock; an `fsync` there would stall every produce to the partition behind a disk flush. The
//!   file is synced where the log already syncs instead: by a flush (the flush policy,
//!   [`crate::Log::flush`], [`crate::Log::close`]) and by the background sync of a rolled segment, in
//!   both cases before the log's recovery point is raised.
//! - **Truncations are synced in the background.** [`crate::Log::truncate_to`] (a replica fetcher),
//!   DeleteRecords and retention queue a sync of the file on the log's flusher, as Kafka schedules one
//!   (`truncateFromEndAsyncFlush`, `truncateFromStartAsyncFlush`, KAFKA-15046), and return.
//!
//! This gives the invariant reopening relies on:
//!
//! > INVARIANT: the file on disk holds every entry whose start offset is below the recovery point.
//!
//! After a crash the segments at or above the recovery point are re-scanned anyway, and their batch
//! headers carry `partitionLeaderEpoch`. So the entries from the first re-scanned segment on are dropped
//! and rebuilt from the headers, and the entries below it come from a file that was synced before the
//! recovery point passed them. A torn file (an unsynced rename can leave an empty or partial file) does
//! not parse. A missing or unparsable file is rebuilt from the batch headers of every segment. An older
//! but well-formed file differs only by entries at or above the recovery point, which are rebuilt, or by
//! a truncation at the start, which the reopen repeats (clamp to the log start).
//!
//! A truncation at the end lowers the recovery point. The entries it removed are only gone from the
//! disk once the background sync has run. Until then, a crash needs the recovery point the broker
//! checkpointed *after* the truncation, the same condition the truncated segment data already needs.
//! Kafka has the same window. Kafka also syncs on every assignment. The design here trades that `fsync`
//! per leader change on the produce path for a re-scan that recovery does in any case.

use std::fmt::Write as _;

/// Kafka's `UNDEFINED_EPOCH` (`OffsetsForLeaderEpochResponse`).
pub(crate) const UNDEFINED_EPOCH: i32 = -1;

/// What [`EpochCache::assign`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Assigned {
    /// A new latest entry.
    New,
    /// The epoch is already the latest one: nothing to do.
    Same,
    /// The epoch is negative, lower than the latest one, or the offset is negative: ignored.
    Ignored,
}

/// The leader-epoch entries of one log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EpochCache {
    /// INVARIANT: epochs and start offsets are both strictly increasing, and none is negative.
    entries: Vec<(i32, i64)>,
}

impl EpochCache {
    /// An empty cache.
    pub(crate) fn new() -> Self {
        EpochCache::default()
    }

    /// The entries, oldest first.
    pub(crate) fn entries(&self) -> &[(i32, i64)] {
        &self.entries
    }

    /// The latest epoch, if any.
    #[inline]
    pub(crate) fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|&(epoch, _)| epoch)
    }

    /// Records that `epoch` starts at `start_offset`, if `epoch` is greater than the latest epoch.
    ///
    /// An equal epoch is a no-op; a lower (or negative) one is ignored, as recovery in Kafka ignores it
    /// (`LogSegment.recover`). When the new entry starts at or below existing entries (only a stale
    /// cache being repaired at open can have those), they are dropped first, as Kafka's
    /// `maybeTruncateNonMonotonicEntries` does, so that start offsets stay increasing.
    pub(crate) fn assign(&mut self, epoch: i32, start_offset: i64) -> Assigned {
        if epoch < 0 || start_offset < 0 {
            return Assigned::Ignored;
        }
        match self.latest_epoch() {
            Some(latest) if epoch == latest => return Assigned::Same,
            Some(latest) if epoch < latest => return Assigned::Ignored,
            _ => {}
        }
        while self.entries.last().is_some_and(|&(_, start)| start >= start_offset) {
            self.entries.pop();
        }
        self.entries.push((epoch, start_offset));
        Assigned::New
    }

    /// Drops the entries whose start offset is at or above `end_offset` (Kafka's
    /// `truncateFromEndAsyncFlush`: the log was cut there). Returns true if something was dropped.
    pub(crate) fn truncate_from_end(&mut self, end_offset: i64) -> bool {
        let keep = self.entries.partition_point(|&(_, start)| start < end_offset);
        let changed = keep < self.entries.len();
        self.entries.truncate(keep);
        changed
    }

    /// Makes `start_offset` the start of the log (Kafka's `truncateFromStartAsyncFlush`): entries that
    /// start at or below it are dropped, except the last of them, which now starts at `start_offset`
    /// (it covers the new log start). Returns true if an entry changed.
    pub(crate) fn truncate_from_start(&mut self, start_offset: i64) -> bool {
        let below = self.entries.partition_point(|&(_, start)| start <= start_offset);
        if below == 0 {
            return false;
        }
        let (epoch, start) = self.entries[below - 1];
        if below == 1 && start == start_offset {
            return false;
        }
        self.entries.drain(..below - 1);
        self.entries[0] = (epoch, start_offset);
        true
    }

    /// Drops every entry (the log was emptied and restarts elsewhere). Returns true if there were any.
    pub(crate) fn clear(&mut self) -> bool {
        let changed = !self.entries.is_empty();
        self.entries.clear();
        changed
    }

    /// Kafka's `LeaderEpochFileCache.endOffsetFor`: the epoch and end offset to answer for `requested`,
    /// given the log end offset. `None` stands for Kafka's `(UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)`,
    /// that is `(-1, -1)`. See [`crate::Log::end_offset_for_epoch`] for the rules.
    pub(crate) fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> Option<(i32, i64)> {
        if requested == UNDEFINED_EPOCH {
            return None;
        }
        if self.latest_epoch() == Some(requested) {
            return Some((requested, log_end_offset));
        }
        // The first entry with a greater epoch; none when the request is above every epoch (or the
        // cache is empty).
        let higher = self.entries.partition_point(|&(epoch, _)| epoch <= requested);
        let &(_, end) = self.entries.get(higher)?;
        match higher.checked_sub(1) {
            // Below every epoch: the data of older epochs is gone; the follower restarts from the first
            // epoch we know.
            None => Some((requested, end)),
            Some(floor) => Some((self.entries[floor].0, end)),
        }
    }

    /// Parses the checkpoint file's text. Stricter than Kafka's reader so that a torn write is caught:
    /// the text must end with a newline, hold exactly the announced entries, and the entries must be
    /// increasing. An empty text is an error too (an unsynced rename can leave an empty file); the
    /// caller rebuilds from the log.
    pub(crate) fn parse(text: &str) -> Result<EpochCache, String> {
        if !text.ends_with('\n') {
            return Err("the file does not end with a newline (a torn write)".into());
        }
        let mut lines = text.lines();
        match lines.next().map(str::trim) {
            Some("0") => {}
            other => return Err(format!("unsupported version {other:?}")),
        }
        let count: usize = lines
            .next()
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| "missing entry count".to_string())?;
        let mut cache = EpochCache::new();
        for _ in 0..count {
            let line = lines.next().ok_or_else(|| format!("expected {count} entries"))?;
            let mut parts = line.split_whitespace();
            let (Some(epoch), Some(offset), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(format!("malformed entry {line:?}"));
            };
            let epoch: i32 = epoch.parse().map_err(|_| format!("bad epoch in {line:?}"))?;
            let offset: i64 = offset.parse().map_err(|_| format!("bad offset in {line:?}"))?;
            let increasing = cache.entries.last().is_none_or(|&(e, o)| epoch > e && offset > o);
            if epoch < 0 || offset < 0 || !increasing {
                return Err(format!("entry {line:?} is negative or out of order"));
            }
            cache.entries.push((epoch, offset));
        }
        if lines.any(|l| !l.trim().is_empty()) {
            return Err(format!("more than the {count} announced entries"));
        }
        Ok(cache)
    }

    /// The checkpoint file's text (Kafka's `LeaderEpochCheckpointFile` format).
    pub(crate) fn to_text(&self) -> String {
        let mut text = format!("0\n{}\n", self.entries.len());
        for (epoch, offset) in &self.entries {
            let _ = writeln!(text, "{epoch} {offset}");
        }
        text
    }
}

#[cfg(test)]
mod tests;
