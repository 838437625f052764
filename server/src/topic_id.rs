//! Topic ids: a random UUID per topic, given at creation and kept the way Kafka keeps it, in a
//! `partition.metadata` file in each partition directory:
//!
//! ```text
//! version: 0
//! topic_id: <the id in base64url without padding, 22 characters>
//! ```
//!
//! A topic deleted and created again gets a new id. Topics created before kzero kept ids get one the
//! first time the broker opens them.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::Error;

/// The file Kafka keeps a partition's topic id in.
pub(crate) const FILE: &str = "partition.metadata";

/// A topic's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TopicId(pub(crate) [u8; 16]);

impl TopicId {
    /// A new random id, never the all-zero id, Kafka's metadata-topic id (1) or one whose text starts with
    /// `-` (awkward on command lines), as Kafka's `Uuid.randomUuid` ensures.
    pub(crate) fn random() -> TopicId {
        loop {
            let id = TopicId(*uuid::Uuid::new_v4().as_bytes());
            let metadata_topic = {
                let mut one = [0u8; 16];
                one[15] = 1;
                one
            };
            if id.0 != [0; 16] && id.0 != metadata_topic && !id.to_string().starts_with('-') {
                return id;
            }
        }
    }

    /// The id as the wire's UUID.
    pub(crate) fn uuid(self) -> protocol::Uuid {
        protocol::Uuid(self.0)
    }

    /// The id a request names, or `None` for the zero UUID (Kafka's "no id").
    pub(crate) fn from_uuid(uuid: protocol::Uuid) -> Option<TopicId> {
        (!uuid.is_zero()).then_some(TopicId(uuid.0))
    }

    /// Parses Kafka's text form.
    pub(crate) fn parse(text: &str) -> Option<TopicId> {
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
        Some(TopicId(bytes.try_into().ok()?))
    }

    /// Reads a partition directory's `partition.metadata`; `None` when absent or unreadable.
    pub(crate) fn read(dir: &Path) -> Option<TopicId> {
        let text = std::fs::read_to_string(dir.join(FILE)).ok()?;
        let mut lines = text.lines();
        if lines.next()?.trim() != "version: 0" {
            return None;
        }
        TopicId::parse(lines.next()?.strip_prefix("topic_id:")?)
    }

    /// Writes a partition directory's `partition.metadata` (atomically, synced).
    pub(crate) fn write(self, dir: &Path) -> Result<(), Error> {
        let path = dir.join(FILE);
        let tmp = dir.join(format!("{FILE}.tmp"));
        let io = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { op, path, source }
        };
        let mut f = std::fs::File::create(&tmp).map_err(io("creating", &tmp))?;
        f.write_all(format!("version: 0\ntopic_id: {self}\n").as_bytes())
            .map_err(io("writing", &tmp))?;
        f.sync_all().map_err(io("syncing", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("renaming", &tmp))
    }
}

impl fmt::Display for TopicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_kafkas_text_and_file_format() {
        // Kafka's text form of the id with bytes 0..16.
        let id = TopicId(std::array::from_fn(|i| i as u8));
        assert_eq!(id.to_string(), "AAECAwQFBgcICQoLDA0ODw");
        assert_eq!(TopicId::parse("AAECAwQFBgcICQoLDA0ODw"), Some(id));
        let dir = tempfile::tempdir().unwrap();
        id.write(dir.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(FILE)).unwrap(),
            "version: 0\ntopic_id: AAECAwQFBgcICQoLDA0ODw\n"
        );
        assert_eq!(TopicId::read(dir.path()), Some(id));
        assert_eq!(TopicId::read(&dir.path().join("missing")), None);
        let a = TopicId::random();
        assert_ne!(a, TopicId::random());
        assert!(!a.to_string().starts_with('-'));
        assert_eq!(a.to_string().len(), 22);
    }
}
