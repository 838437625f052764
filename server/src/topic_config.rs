//! Topic configs: one table of the keys kzero honours, and the per-topic overrides set by CreateTopics.
//!
//! [`TOPIC_KEYS`] is the single list of topic-config keys: each entry has Kafka's topic key, the broker key
//! that provides its default (its synonym in DescribeConfigs), the kzero TOML key that sets that default,
//! how values are validated, and how a value reaches the storage [`LogConfig`]. CreateTopics validation,
//! the logs' settings, DescribeConfigs and the `[log]` section's validation all read this table, so a key
//! cannot be accepted without being described and applied, or described without being accepted.
//!
//! Overrides are kept in `<data_dir>/.kzero-topics/<topic>.properties` (one `key=value` per line; Kafka
//! keeps them in its metadata log). Only keys in the table are accepted; anything else, or a value kzero
//! cannot honour (compaction, broker-side recompression), is `INVALID_CONFIG` with the reason, rather
//! than silently ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use storage::LogConfig;

use crate::config::Config;
use crate::Error;

/// Syncs a directory so that a rename or removal in it is on disk (a file system that cannot sync a
/// directory, `EINVAL`, has nothing more to do).
fn sync_dir(dir: &Path) -> Result<(), Error> {
    let d = std::fs::File::open(dir).map_err(|source| Error::Io {
        op: "opening",
        path: dir.to_path_buf(),
        source,
    })?;
    match d.sync_all() {
        Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => Ok(()),
        Err(source) => Err(Error::Io {
            op: "syncing",
            path: dir.to_path_buf(),
            source,
        }),
        Ok(()) => Ok(()),
    }
}

/// The directory of the override files, inside the data directory (the log manager skips dot-directories).
const DIR: &str = ".kzero-topics";

/// How a key's values are validated and applied.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// An integer of at least `min`, read from and written to the log settings.
    Long {
        /// The smallest accepted value.
        min: i64,
        /// Reads the setting.
        get: fn(&LogConfig) -> i64,
        /// Writes the setting.
        set: fn(&mut LogConfig, i64),
    },
    /// The one value kzero can honour, and why no other.
    Fixed {
        /// The value.
        value: &'static str,
        /// Why another value is refused.
        why: &'static str,
    },
}

/// One topic-config key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TopicKey {
    /// Kafka's topic-level key.
    pub(crate) name: &'static str,
    /// Kafka's broker-level key that gives the default (its synonym).
    pub(crate) broker_name: &'static str,
    /// The kzero TOML key that sets the broker default, if any (`log.*` keys are in the `[log]` section).
    pub(crate) toml: Option<&'static str>,
    /// Validation and application.
    pub(crate) kind: Kind,
}

const fn long(
    name: &'static str,
    broker_name: &'static str,
    toml: &'static str,
    min: i64,
    get: fn(&LogConfig) -> i64,
    set: fn(&mut LogConfig, i64),
) -> TopicKey {
    TopicKey {
        name,
        broker_name,
        toml: Some(toml),
        kind: Kind::Long { min, get, set },
    }
}

const fn fixed(name: &'static str, broker_name: &'static str, value: &'static str, why: &'static str) -> TopicKey {
    TopicKey {
        name,
        broker_name,
        toml: None,
        kind: Kind::Fixed { value, why },
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Every topic-config key kzero accepts and describes, sorted by name.
pub(crate) const TOPIC_KEYS: &[TopicKey] = &[
    fixed(
        "cleanup.policy",
        "log.cleanup.policy",
        "delete",
        "kzero only deletes old segments (no compaction)",
    ),
    fixed(
        "compression.type",
        "compression.type",
        "producer",
        "kzero stores batches as the producer compressed them",
    ),
    long(
        "flush.messages",
        "log.flush.interval.messages",
        "log.flush_messages",
        1,
        |c| c.flush_messages,
        |c, v| c.flush_messages = v,
    ),
    long(
        "flush.ms",
        "log.flush.interval.ms",
        "log.flush_ms",
        0,
        |c| c.flush_ms,
        |c, v| c.flush_ms = v,
    ),
    long(
        "index.interval.bytes",
        "log.index.interval.bytes",
        "log.index_interval_bytes",
        0,
        |c| to_i64(c.index_interval_bytes),
        |c, v| c.index_interval_bytes = to_u64(v),
    ),
    long(
        "max.message.bytes",
        "message.max.bytes",
        "message_max_bytes",
        100,
        |c| to_i64(c.max_message_bytes as u64),
        |c, v| c.max_message_bytes = usize::try_from(v).unwrap_or(usize::MAX),
    ),
    fixed(
        "message.timestamp.type",
        "log.message.timestamp.type",
        "CreateTime",
        "only CreateTime",
    ),
    long(
        "min.insync.replicas",
        "min.insync.replicas",
        "min_insync_replicas",
        1,
        |c| c.min_insync_replicas,
        |c, v| c.min_insync_replicas = v,
    ),
    long(
        "retention.bytes",
        "log.retention.bytes",
        "log.retention_bytes",
        -1,
        |c| c.retention_bytes,
        |c, v| c.retention_bytes = v,
    ),
    long(
        "retention.ms",
        "log.retention.ms",
        "log.retention_ms",
        -1,
        |c| c.retention_ms,
        |c, v| c.retention_ms = v,
    ),
    long(
        "segment.bytes",
        "log.segment.bytes",
        "log.segment_bytes",
        1024,
        |c| to_i64(c.segment_bytes),
        |c, v| c.segment_bytes = to_u64(v),
    ),
    long(
        "segment.index.bytes",
        "log.index.size.max.bytes",
        "log.segment_index_bytes",
        16,
        |c| to_i64(c.segment_index_bytes),
        |c, v| c.segment_index_bytes = to_u64(v),
    ),
    long(
        "segment.ms",
        "log.roll.ms",
        "log.segment_ms",
        1,
        |c| c.segment_ms,
        |c, v| c.segment_ms = v,
    ),
    fixed(
        "unclean.leader.election.enable",
        "unclean.leader.election.enable",
        "false",
        "kzero never elects an out-of-sync replica",
    ),
];

impl TopicKey {
    /// The key named `name`.
    pub(crate) fn find(name: &str) -> Option<&'static TopicKey> {
        TOPIC_KEYS.iter().find(|k| k.name == name)
    }

    /// The broker's value for this key (its `[log]` settings).
    pub(crate) fn broker_value(&self, config: &Config) -> String {
        match self.kind {
            Kind::Long { get, .. } => get(&config.log_config()).to_string(),
            Kind::Fixed { value, .. } => value.to_string(),
        }
    }

    /// Kafka's default for this key.
    pub(crate) fn kafka_default(&self) -> String {
        match self.kind {
            Kind::Long { get, .. } => get(&LogConfig::default()).to_string(),
            Kind::Fixed { value, .. } => value.to_string(),
        }
    }

    /// Kafka's `ConfigDef` type of the key, as DescribeConfigs v3+ reports it (`ConfigType`: BOOLEAN 1,
    /// STRING 2, INT 3, LONG 5, LIST 7).
    pub(crate) fn kafka_type(&self) -> i8 {
        match self.name {
            "cleanup.policy" => 7,
            "compression.type" | "message.timestamp.type" => 2,
            "unclean.leader.election.enable" => 1,
            "index.interval.bytes"
            | "max.message.bytes"
            | "min.insync.replicas"
            | "segment.bytes"
            | "segment.index.bytes" => 3,
            _ => 5,
        }
    }

    /// What the key does, in a sentence (DescribeConfigs v3+ with `include_documentation`).
    pub(crate) fn documentation(&self) -> &'static str {
        match self.name {
            "cleanup.policy" => "How old segments are discarded: delete (compaction is not supported).",
            "compression.type" => "The codec of stored batches: producer keeps what the producer sent.",
            "flush.messages" => "Sync the log to disk after this many messages.",
            "flush.ms" => "Sync the log to disk when this long has passed since the last sync.",
            "index.interval.bytes" => "Bytes of log between two offset-index entries.",
            "max.message.bytes" => "The largest record batch the topic accepts.",
            "message.timestamp.type" => "Which timestamp records keep: CreateTime (the producer's).",
            "min.insync.replicas" => "Replicas that must have a write for acks=all to succeed.",
            "retention.bytes" => "Delete the oldest segments while a partition is larger than this (-1: no limit).",
            "retention.ms" => "Delete segments whose newest record is older than this (-1: keep forever).",
            "segment.bytes" => "Roll to a new segment file when the active one would exceed this size.",
            "segment.index.bytes" => "The largest size of a segment's index files.",
            "segment.ms" => "Roll to a new segment this long after its first append.",
            "unclean.leader.election.enable" => "Whether a replica outside the ISR may become leader.",
            _ => "",
        }
    }

    /// Checks a value; returns it normalised, or the reason it is refused.
    pub(crate) fn validate(&self, value: &str) -> Result<String, String> {
        let value = value.trim();
        match self.kind {
            Kind::Long { min, .. } => match value.parse::<i64>() {
                Ok(v) if v >= min => Ok(v.to_string()),
                Ok(_) => Err(format!(
                    "invalid value {value:?} for {}: must be at least {min}",
                    self.name
                )),
                Err(_) => Err(format!("invalid value {value:?} for {}: not an integer", self.name)),
            },
            Kind::Fixed { value: only, .. } if value == only => Ok(only.to_string()),
            Kind::Fixed { why, .. } => Err(format!("{}={value} is not supported: {why}", self.name)),
        }
    }
}

/// Checks the broker defaults that the config file sets for the keys of [`TOPIC_KEYS`]; the error names
/// the TOML key.
pub(crate) fn validate_broker_defaults(log: &LogConfig) -> Result<(), (&'static str, String)> {
    for key in TOPIC_KEYS {
        if let (Some(toml), Kind::Long { min, get, .. }) = (key.toml, key.kind) {
            if get(log) < min {
                return Err((toml, format!("must be at least {min}")));
            }
        }
    }
    Ok(())
}

/// A topic's overrides: Kafka key -> value, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TopicConfig {
    pub(crate) overrides: BTreeMap<String, String>,
}

impl TopicConfig {
    /// Validates CreateTopics' config entries.
    pub(crate) fn parse<'a>(entries: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> Result<Self, String> {
        let mut overrides = BTreeMap::new();
        for (name, value) in entries {
            let Some(value) = value else {
                return Err(format!("{name} has no value"));
            };
            let key = TopicKey::find(name).ok_or_else(|| format!("unknown or unsupported topic config {name:?}"))?;
            overrides.insert(name.to_string(), key.validate(value)?);
        }
        Ok(TopicConfig { overrides })
    }

    /// The overrides the metadata holds, key by key: a key this broker does not know or a value it refuses
    /// (written by another version) is skipped and named in the second part, and the others apply.
    pub(crate) fn parse_lenient<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> (Self, Vec<String>) {
        let mut overrides = BTreeMap::new();
        let mut skipped = Vec::new();
        for (name, value) in entries {
            match TopicKey::find(name).map(|key| key.validate(value)) {
                Some(Ok(v)) => {
                    overrides.insert(name.to_string(), v);
                }
                Some(Err(reason)) => skipped.push(format!("{name}={value} ({reason})")),
                None => skipped.push(format!("{name} (unknown)")),
            }
        }
        (TopicConfig { overrides }, skipped)
    }

    /// The overrides as (key, value) pairs, for the metadata's config records.
    pub(crate) fn entries(&self) -> Vec<(String, String)> {
        self.overrides.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// The config records that turn `self` into `next`: keys set to new values, and removed keys (`None`).
    pub(crate) fn changes_to(&self, next: &TopicConfig) -> Vec<(String, Option<String>)> {
        let mut changes: Vec<(String, Option<String>)> = next
            .overrides
            .iter()
            .filter(|(k, v)| self.overrides.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        changes.extend(
            self.overrides
                .keys()
                .filter(|k| !next.overrides.contains_key(*k))
                .map(|k| (k.clone(), None)),
        );
        changes
    }

    /// The log settings of a partition of this topic.
    pub(crate) fn apply(&self, mut log: LogConfig) -> LogConfig {
        for (name, value) in &self.overrides {
            // Values were validated by `parse`; an unparsable one (hand-edited file) keeps the default.
            if let Some(TopicKey {
                kind: Kind::Long { set, .. },
                ..
            }) = TopicKey::find(name)
            {
                if let Ok(v) = value.parse() {
                    set(&mut log, v);
                }
            }
        }
        log
    }

    fn path(data_dir: &Path, topic: &str) -> PathBuf {
        data_dir.join(DIR).join(format!("{topic}.properties"))
    }

    /// Every topic's overrides found in the data directory.
    pub(crate) fn load_all(data_dir: &Path) -> Result<BTreeMap<String, TopicConfig>, Error> {
        let dir = data_dir.join(DIR);
        let mut all = BTreeMap::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(all),
            Err(source) => {
                return Err(Error::Io {
                    op: "listing",
                    path: dir,
                    source,
                })
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(topic) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".properties"))
            else {
                continue;
            };
            let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
                op: "reading",
                path: path.clone(),
                source,
            })?;
            let pairs: Vec<(&str, Option<&str>)> = text
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .filter_map(|l| l.split_once('=').map(|(k, v)| (k.trim(), Some(v.trim()))))
                .collect();
            match TopicConfig::parse(pairs) {
                Ok(config) => {
                    all.insert(topic.to_string(), config);
                }
                Err(reason) => tracing::warn!(file = %path.display(), %reason, "ignoring invalid topic config file"),
            }
        }
        Ok(all)
    }

    /// Writes the topic's override file (atomically), or removes it when there are no overrides.
    pub(crate) fn save(&self, data_dir: &Path, topic: &str) -> Result<(), Error> {
        let path = Self::path(data_dir, topic);
        if self.overrides.is_empty() {
            return Self::remove(data_dir, topic);
        }
        let dir = data_dir.join(DIR);
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            op: "creating",
            path: dir.clone(),
            source,
        })?;
        let text: String = self.overrides.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        let tmp = path.with_extension("tmp");
        let io = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { op, path, source }
        };
        // Durable before the change is acknowledged: the file synced, renamed, and the rename synced.
        let mut f = std::fs::File::create(&tmp).map_err(io("creating", &tmp))?;
        std::io::Write::write_all(&mut f, text.as_bytes()).map_err(io("writing", &tmp))?;
        f.sync_all().map_err(io("syncing", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("renaming", &tmp))?;
        sync_dir(&dir)
    }

    /// Removes the topic's override file, if any.
    pub(crate) fn remove(data_dir: &Path, topic: &str) -> Result<(), Error> {
        let path = Self::path(data_dir, topic);
        match std::fs::remove_file(&path) {
            // The removal is durable too (a change back to the defaults is acknowledged after it).
            Ok(()) => sync_dir(&data_dir.join(DIR)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Io {
                op: "removing",
                path,
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_a_type_and_a_documentation() {
        for key in TOPIC_KEYS {
            assert!(!key.documentation().is_empty(), "{} has no documentation", key.name);
            assert!([1, 2, 3, 5, 7].contains(&key.kafka_type()), "{}", key.name);
        }
    }

    #[test]
    fn every_key_accepts_its_defaults_and_applies_them() {
        let config = Config::default();
        for key in TOPIC_KEYS {
            // The broker value and Kafka's default are both valid topic values.
            for value in [key.broker_value(&config), key.kafka_default()] {
                let parsed = TopicConfig::parse([(key.name, Some(value.as_str()))])
                    .unwrap_or_else(|e| panic!("{} refuses {value}: {e}", key.name));
                let applied = parsed.apply(LogConfig::default());
                if let Kind::Long { get, min, .. } = key.kind {
                    assert_eq!(get(&applied).to_string(), value, "{} is not applied", key.name);
                    // One below the minimum is refused, with the key's name.
                    let low = (min - 1).to_string();
                    let err = TopicConfig::parse([(key.name, Some(low.as_str()))]).unwrap_err();
                    assert!(err.contains(key.name), "{err}");
                }
            }
        }
        let names: Vec<&str> = TOPIC_KEYS.iter().map(|k| k.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted, "TOPIC_KEYS must be sorted and unique");
    }

    #[test]
    fn every_toml_key_is_in_the_example_file_and_validated() {
        let example = include_str!("../../kzero.example.toml");
        for key in TOPIC_KEYS {
            let Some(toml) = key.toml else { continue };
            let field = toml.rsplit('.').next().unwrap();
            assert!(example.contains(field), "kzero.example.toml does not mention {toml}");
            if let Kind::Long { min, set, get } = key.kind {
                let mut log = LogConfig::default();
                set(&mut log, min - 1);
                // Unsigned settings cannot hold a value below a minimum of 0.
                if get(&log) == min - 1 {
                    assert_eq!(validate_broker_defaults(&log).unwrap_err().0, toml);
                }
            }
        }
        assert!(validate_broker_defaults(&LogConfig::default()).is_ok());
    }

    #[test]
    fn unknown_keys_and_unsupported_values_are_refused_with_a_reason() {
        for (key, value, reason) in [
            ("retention.mss", "1", "unknown"),
            ("cleanup.policy", "compact", "not supported"),
            ("segment.bytes", "10", "at least 1024"),
            ("segment.bytes", "ten", "not an integer"),
            ("min.insync.replicas", "0", "at least 1"),
        ] {
            let err = TopicConfig::parse([(key, Some(value))]).unwrap_err();
            assert!(err.contains(reason), "{key}={value}: {err}");
        }
        assert!(TopicConfig::parse([("retention.ms", None)]).is_err());
    }
}
