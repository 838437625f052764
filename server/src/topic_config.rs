//! Per-topic config overrides, under Kafka's names, set by CreateTopics.
//!
//! They are kept in `<data_dir>/.kzero-topics/<topic>.properties` (one `key=value` per line; Kafka keeps them
//! in its metadata log) and applied to the topic's partition logs. Only keys kzero honours are accepted;
//! anything else, or a value kzero cannot honour (compaction, broker-side recompression), is
//! `INVALID_CONFIG` with the reason, rather than silently ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::Error;

/// The directory of the override files, inside the data directory (the log manager skips dot-directories).
const DIR: &str = ".kzero-topics";

/// A topic's overrides: Kafka key -> value, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TopicConfig {
    pub(crate) overrides: BTreeMap<String, String>,
}

fn number<T: std::str::FromStr + PartialOrd>(key: &str, value: &str, min: T) -> Result<T, String> {
    match value.trim().parse::<T>() {
        Ok(v) if v >= min => Ok(v),
        _ => Err(format!("invalid value {value:?} for {key}")),
    }
}

impl TopicConfig {
    /// Validates CreateTopics' config entries.
    pub(crate) fn parse<'a>(entries: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> Result<Self, String> {
        let mut overrides = BTreeMap::new();
        for (key, value) in entries {
            let Some(value) = value else {
                return Err(format!("{key} has no value"));
            };
            match key {
                "retention.ms" | "retention.bytes" => {
                    number::<i64>(key, value, -1)?;
                }
                "segment.ms" | "flush.messages" => {
                    number::<i64>(key, value, 1)?;
                }
                "flush.ms" => {
                    number::<i64>(key, value, 0)?;
                }
                "segment.bytes" => {
                    number::<u64>(key, value, 1024)?;
                }
                "segment.index.bytes" => {
                    number::<u64>(key, value, 16)?;
                }
                "index.interval.bytes" => {
                    number::<u64>(key, value, 0)?;
                }
                "max.message.bytes" => {
                    number::<usize>(key, value, 100)?;
                }
                "cleanup.policy" if value != "delete" => {
                    return Err(format!(
                        "cleanup.policy={value} is not supported: kzero only deletes old segments"
                    ));
                }
                "compression.type" if value != "producer" => {
                    return Err(format!(
                        "compression.type={value} is not supported: kzero stores batches as the producer compressed them"
                    ));
                }
                "message.timestamp.type" if value != "CreateTime" => {
                    return Err(format!(
                        "message.timestamp.type={value} is not supported: only CreateTime"
                    ));
                }
                "min.insync.replicas" if value != "1" => {
                    return Err(format!("min.insync.replicas={value} is impossible with one broker"));
                }
                "cleanup.policy" | "compression.type" | "message.timestamp.type" | "min.insync.replicas" => {}
                other => return Err(format!("unknown or unsupported topic config {other:?}")),
            }
            overrides.insert(key.to_string(), value.trim().to_string());
        }
        Ok(TopicConfig { overrides })
    }

    /// The log settings of a partition of this topic.
    pub(crate) fn apply(&self, mut log: storage::LogConfig) -> storage::LogConfig {
        for (key, value) in &self.overrides {
            // Values were validated by `parse`; an unparsable one (hand-edited file) keeps the default.
            let i = |d: i64| value.parse().unwrap_or(d);
            let u = |d: u64| value.parse().unwrap_or(d);
            match key.as_str() {
                "retention.ms" => log.retention_ms = i(log.retention_ms),
                "retention.bytes" => log.retention_bytes = i(log.retention_bytes),
                "segment.ms" => log.segment_ms = i(log.segment_ms),
                "flush.messages" => log.flush_messages = i(log.flush_messages),
                "flush.ms" => log.flush_ms = i(log.flush_ms),
                "segment.bytes" => log.segment_bytes = u(log.segment_bytes),
                "segment.index.bytes" => log.segment_index_bytes = u(log.segment_index_bytes),
                "index.interval.bytes" => log.index_interval_bytes = u(log.index_interval_bytes),
                "max.message.bytes" => log.max_message_bytes = value.parse().unwrap_or(log.max_message_bytes),
                _ => {}
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
        std::fs::write(&tmp, text).map_err(|source| Error::Io {
            op: "writing",
            path: tmp.clone(),
            source,
        })?;
        std::fs::rename(&tmp, &path).map_err(|source| Error::Io {
            op: "renaming",
            path: tmp,
            source,
        })
    }

    /// Removes the topic's override file, if any.
    pub(crate) fn remove(data_dir: &Path, topic: &str) -> Result<(), Error> {
        let path = Self::path(data_dir, topic);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
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

    /// Every key CreateTopics accepts (with a valid value), which DescribeConfigs must also describe.
    const ACCEPTED: &[(&str, &str)] = &[
        ("retention.ms", "1000"),
        ("retention.bytes", "-1"),
        ("segment.ms", "60000"),
        ("segment.bytes", "1048576"),
        ("segment.index.bytes", "4096"),
        ("index.interval.bytes", "4096"),
        ("flush.messages", "1"),
        ("flush.ms", "1000"),
        ("max.message.bytes", "2000"),
        ("cleanup.policy", "delete"),
        ("compression.type", "producer"),
        ("message.timestamp.type", "CreateTime"),
        ("min.insync.replicas", "1"),
    ];

    #[test]
    fn every_accepted_key_is_described_and_applied() {
        let described: Vec<&str> = crate::configs::topic_configs(&crate::Config::default())
            .into_iter()
            .map(|(name, ..)| name)
            .collect();
        for (key, value) in ACCEPTED {
            let config = TopicConfig::parse([(*key, Some(*value))]).unwrap();
            assert!(described.contains(key), "{key} is accepted but not described");
            assert_eq!(config.overrides.get(*key).map(String::as_str), Some(*value));
        }
        let applied = TopicConfig::parse([("retention.ms", Some("1000")), ("max.message.bytes", Some("2000"))])
            .unwrap()
            .apply(storage::LogConfig::default());
        assert_eq!((applied.retention_ms, applied.max_message_bytes), (1000, 2000));
    }

    #[test]
    fn unknown_keys_and_unsupported_values_are_refused_with_a_reason() {
        for (key, value, reason) in [
            ("retention.mss", "1", "unknown"),
            ("cleanup.policy", "compact", "not supported"),
            ("segment.bytes", "10", "invalid value"),
            ("min.insync.replicas", "2", "one broker"),
        ] {
            let err = TopicConfig::parse([(key, Some(value))]).unwrap_err();
            assert!(err.contains(reason), "{key}={value}: {err}");
        }
    }
}
