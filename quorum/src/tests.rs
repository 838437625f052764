//! Internal tests of the log storage: what is appended, voted, truncated and purged comes back
//! after reopening, and a torn or corrupt tail is cut off.

use std::path::Path;
use std::path::PathBuf;

use openraft::storage::RaftLogStorage;
use openraft::storage::RaftLogStorageExt;
use openraft::CommittedLeaderId;
use openraft::EntryPayload;
use openraft::LogId;
use openraft::RaftLogReader;
use openraft::Vote;

use crate::log::Entry;
use crate::log::LogStore;
use crate::Error;
use crate::NodeId;
use crate::Payload;

fn log_id(term: u64, index: u64) -> LogId<NodeId> {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

fn entry(term: u64, index: u64) -> Entry {
    Entry {
        log_id: log_id(term, index),
        payload: EntryPayload::Normal(Payload(format!("entry {index} of term {term}").into_bytes())),
    }
}

fn entries(term: u64, range: std::ops::Range<u64>) -> Vec<Entry> {
    range.map(|i| entry(term, i)).collect()
}

async fn all(store: &mut LogStore) -> Vec<Entry> {
    store.try_get_log_entries(..).await.expect("read entries")
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn appended_entries_vote_and_committed_come_back_after_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut store = LogStore::open(dir.path()).expect("open");
        assert!(store.is_pristine());
        store.blocking_append(entries(1, 0..10)).await.expect("append");
        store.save_vote(&Vote::new_committed(1, 1)).await.expect("vote");
        store.save_committed(Some(log_id(1, 7))).await.expect("committed");
    }
    let mut store = LogStore::open(dir.path()).expect("reopen");
    assert!(!store.is_pristine());
    assert_eq!(all(&mut store).await, entries(1, 0..10));
    assert_eq!(store.read_vote().await.expect("vote"), Some(Vote::new_committed(1, 1)));
    assert_eq!(store.read_committed().await.expect("committed"), Some(log_id(1, 7)));
    let state = store.get_log_state().await.expect("state");
    assert_eq!(state.last_log_id, Some(log_id(1, 9)));
    assert_eq!(state.last_purged_log_id, None);
    assert_eq!(store.try_get_log_entries(3..5).await.expect("range"), entries(1, 3..5));
}

#[tokio::test]
async fn truncate_and_purge_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut store = LogStore::open(dir.path()).expect("open");
        store.blocking_append(entries(1, 0..20)).await.expect("append");
        store.truncate(log_id(1, 15)).await.expect("truncate");
        store
            .blocking_append(entries(2, 15..18))
            .await
            .expect("append after truncate");
        store.purge(log_id(1, 5)).await.expect("purge");
        assert_eq!(all(&mut store).await.first().map(|e| e.log_id), Some(log_id(1, 6)));
    }
    let mut store = LogStore::open(dir.path()).expect("reopen");
    let mut expected = entries(1, 6..15);
    expected.extend(entries(2, 15..18));
    assert_eq!(all(&mut store).await, expected);
    let state = store.get_log_state().await.expect("state");
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 5)));
    assert_eq!(state.last_log_id, Some(log_id(2, 17)));

    // Purging beyond the last entry (as after installing a snapshot) empties the log; appends
    // continue after the purged id, also after a reopen.
    store.purge(log_id(2, 30)).await.expect("purge all");
    assert!(segments(dir.path()).is_empty());
    store
        .blocking_append(entries(3, 31..33))
        .await
        .expect("append after purge");
    drop(store);
    let mut store = LogStore::open(dir.path()).expect("reopen again");
    assert_eq!(all(&mut store).await, entries(3, 31..33));
    assert_eq!(
        store.get_log_state().await.expect("state").last_purged_log_id,
        Some(log_id(2, 30))
    );
}

#[tokio::test]
async fn a_torn_last_frame_is_cut_off_on_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut store = LogStore::open(dir.path()).expect("open");
        store.blocking_append(entries(1, 0..5)).await.expect("append");
    }
    let segment = segments(dir.path()).pop().expect("a segment");
    let len = std::fs::metadata(&segment).expect("stat").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .expect("open segment")
        .set_len(len - 3)
        .expect("cut");
    {
        let mut store = LogStore::open(dir.path()).expect("reopen");
        assert_eq!(all(&mut store).await, entries(1, 0..4));
        // The cut is made on disk: the log goes on from the last whole entry.
        store
            .blocking_append(entries(2, 4..6))
            .await
            .expect("append after recovery");
    }
    let mut store = LogStore::open(dir.path()).expect("reopen again");
    let mut expected = entries(1, 0..4);
    expected.extend(entries(2, 4..6));
    assert_eq!(all(&mut store).await, expected);
}

#[tokio::test]
async fn a_flipped_byte_in_the_last_frame_is_cut_off_on_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut store = LogStore::open(dir.path()).expect("open");
        store.blocking_append(entries(1, 0..5)).await.expect("append");
    }
    let segment = segments(dir.path()).pop().expect("a segment");
    let mut bytes = std::fs::read(&segment).expect("read");
    let last = bytes.len() - 2;
    bytes[last] ^= 0x40;
    std::fs::write(&segment, &bytes).expect("write");
    let mut store = LogStore::open(dir.path()).expect("reopen");
    assert_eq!(all(&mut store).await, entries(1, 0..4));
}

#[tokio::test]
async fn segments_roll_and_corruption_before_the_last_segment_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = |index: u64| Entry {
        log_id: log_id(1, index),
        // As JSON an array of 1.5 M bytes takes well over 4 MiB, so each entry fills a segment.
        payload: EntryPayload::Normal(Payload(vec![200u8; 1_500_000])),
    };
    {
        let mut store = LogStore::open(dir.path()).expect("open");
        store.blocking_append((0..3).map(big)).await.expect("append");
        store.blocking_append(entries(1, 3..5)).await.expect("append small");
    }
    let files = segments(dir.path());
    assert_eq!(files.len(), 4, "{files:?}");
    {
        let mut store = LogStore::open(dir.path()).expect("reopen");
        assert_eq!(all(&mut store).await.len(), 5);
    }
    let mut bytes = std::fs::read(&files[0]).expect("read");
    bytes[100] ^= 0x01;
    std::fs::write(&files[0], &bytes).expect("write");
    match LogStore::open(dir.path()) {
        Err(Error::Corrupt { path, .. }) => assert_eq!(path, files[0]),
        other => panic!("expected a corruption error, got {other:?}"),
    }
}
