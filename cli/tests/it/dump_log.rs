//! `kzero dump-log` on segments the broker wrote, and on corrupted copies of them.

use std::path::{Path, PathBuf};

use crate::support::{kzero, Broker};

const SEGMENT: &str = "00000000000000000000";

/// A broker that wrote 2000 records in about 100 batches to `t-0`, then stopped cleanly (so that its
/// indexes are trimmed and written), and that partition's directory.
fn written_segment() -> (Broker, PathBuf) {
    let mut broker = Broker::start();
    broker.kzero(&["topics", "create", "t"]).ok();
    let input: String = (0..2000).map(|i| format!("line-{i:04}-{}\n", "p".repeat(80))).collect();
    broker
        .kzero_input(&["produce", "t", "--batch-size", "2000"], input.as_bytes())
        .ok();
    let dir = broker.partition_dir("t", 0);
    // While the broker runs, the active segment's indexes are preallocated and not written yet.
    let live = kzero(&["dump-log", dir.join(format!("{SEGMENT}.index")).to_str().unwrap()]);
    assert!(live.ok().contains("zero entries from byte 0"), "{}", live.stdout);
    broker.stop();
    (broker, dir)
}

fn path(dir: &Path, ext: &str) -> String {
    dir.join(format!("{SEGMENT}.{ext}")).to_str().unwrap().to_string()
}

/// (position, size, base offset, last offset) of every batch, from a clean dump.
fn batches(dump: &str) -> Vec<(u64, u64, u64, u64)> {
    dump.lines()
        .filter(|l| l.starts_with("baseOffset: "))
        .map(|l| {
            let field = |name: &str| -> u64 {
                let l = format!(" {l}");
                let at = l.find(&format!(" {name}: ")).unwrap() + name.len() + 3;
                l[at..].split(' ').next().unwrap().parse().unwrap()
            };
            (
                field("position"),
                field("size"),
                field("baseOffset"),
                field("lastOffset"),
            )
        })
        .collect()
}

#[test]
fn dumps_what_the_broker_wrote() {
    let (_broker, dir) = written_segment();
    let log = kzero(&["dump-log", &path(&dir, "log")]);
    let out = log.ok();
    assert!(
        out.starts_with(&format!("Dumping {}\nLog starting offset: 0\n", path(&dir, "log"))),
        "{out}"
    );
    let counts: u64 = out
        .lines()
        .filter(|l| l.starts_with("baseOffset: "))
        .map(|l| {
            l.split(" count: ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(counts, 2000);
    let spans = batches(out);
    assert!(spans.len() > 50, "{} batches", spans.len());
    // Batches are back to back.
    for w in spans.windows(2) {
        assert_eq!(w[0].0 + w[0].1, w[1].0);
    }
    assert!(out
        .lines()
        .filter(|l| l.starts_with("baseOffset: "))
        .all(|l| l.ends_with("isvalid: true")));
    assert!(!out.contains("CORRUPT"));

    let records = kzero(&["dump-log", "--records", &path(&dir, "log")]);
    let first = records
        .ok()
        .lines()
        .find(|l| l.starts_with("| offset: 0 "))
        .unwrap()
        .to_string();
    assert!(
        first.contains("keySize: -1 valueSize: 90 sequence: -1 headers: [] key: null payload: line-0000-ppp"),
        "{first}"
    );
    assert_eq!(
        records.stdout.lines().filter(|l| l.starts_with("| offset: ")).count(),
        2000
    );

    let index = kzero(&["dump-log", &path(&dir, "index")]);
    let entries: Vec<&str> = index.ok().lines().filter(|l| l.starts_with("offset: ")).collect();
    assert!(entries.len() > 10, "{}", index.stdout);
    assert!(
        !index.stdout.contains("CORRUPT") && !index.stdout.contains("zero entries"),
        "{}",
        index.stdout
    );

    let time = kzero(&["dump-log", &path(&dir, "timeindex")]);
    assert!(
        time.ok().lines().any(|l| l.starts_with("timestamp: ")),
        "{}",
        time.stdout
    );
    assert!(!time.stdout.contains("CORRUPT"), "{}", time.stdout);

    // A partition directory: every file, the log first.
    let all = kzero(&["dump-log", dir.to_str().unwrap()]);
    let dumping: Vec<&str> = all.ok().lines().filter(|l| l.starts_with("Dumping ")).collect();
    assert_eq!(
        dumping,
        [
            format!("Dumping {}", path(&dir, "log")),
            format!("Dumping {}", path(&dir, "index")),
            format!("Dumping {}", path(&dir, "timeindex")),
        ]
    );
}

/// Copies the segment's files into a fresh directory, lets `damage` change the bytes of one of them,
/// and dumps that file.
fn damaged(
    dir: &Path,
    ext: &str,
    damage: impl FnOnce(&mut Vec<u8>),
) -> (tempfile::TempDir, String, crate::support::Run) {
    let copy = tempfile::tempdir().unwrap();
    for e in ["log", "index", "timeindex"] {
        std::fs::copy(path(dir, e), path(copy.path(), e)).unwrap();
    }
    let target = path(copy.path(), ext);
    let mut bytes = std::fs::read(&target).unwrap();
    damage(&mut bytes);
    std::fs::write(&target, bytes).unwrap();
    let run = kzero(&["dump-log", &target]);
    (copy, target, run)
}

#[test]
fn reports_corruption_precisely() {
    let (_broker, dir) = written_segment();
    let spans = batches(kzero(&["dump-log", &path(&dir, "log")]).ok());
    let (p, size, base, last) = spans[2];

    // A flipped bit in the third batch's records: its CRC fails, the walk goes on.
    let (_d, target, run) = damaged(&dir, "log", |b| b[(p + 100) as usize] ^= 0x10);
    let error = run.fails().to_string();
    assert!(
        error.starts_with(&format!(
            "error: {target} is corrupt at byte {p}: the batch at byte {p} (offsets {base}-{last}, {size} bytes) fails its CRC: stored 0x"
        )),
        "{error}"
    );
    assert!(
        error.ends_with(&format!(" over bytes {}-{}", p + 21, p + size - 1)),
        "{error}"
    );
    assert_eq!(
        run.stdout.lines().filter(|l| l.starts_with("CORRUPT at byte ")).count(),
        1
    );
    assert_eq!(
        run.stdout.lines().filter(|l| l.ends_with("isvalid: true")).count(),
        spans.len() - 1
    );
    assert!(run.stdout.ends_with("Found 1 problem(s).\n"));

    // Cut in the middle of the third batch.
    let (_d, target, run) = damaged(&dir, "log", |b| b.truncate((p + 30) as usize));
    assert_eq!(
        run.fails(),
        format!("error: {target} is corrupt at byte {p}: truncated batch: its length field says {size} bytes, only 30 remain in the file")
    );
    assert!(run
        .stdout
        .contains(&format!("Cannot read past byte {p} of {}.", p + 30)));

    // A negative length field.
    let (_d, target, run) = damaged(&dir, "log", |b| {
        b[(p + 8) as usize..(p + 12) as usize].copy_from_slice(&(-1i32).to_be_bytes())
    });
    assert_eq!(
        run.fails(),
        format!("error: {target} is corrupt at byte {}: invalid batch length -1 (a batch holds at least 49 bytes after its length field)", p + 8)
    );

    // A legacy magic byte.
    let (_d, target, run) = damaged(&dir, "log", |b| b[(p + 16) as usize] = 1);
    assert_eq!(
        run.fails(),
        format!(
            "error: {target} is corrupt at byte {}: magic byte 1, expected 2 (legacy message format, not supported)",
            p + 16
        )
    );

    // Two batches with the same offsets.
    let (_d, target, run) = damaged(&dir, "log", |b| {
        let p1 = spans[1].0;
        let first = b[p1 as usize..(p1 + 8) as usize].to_vec();
        b[p as usize..(p + 8) as usize].copy_from_slice(&first);
    });
    assert_eq!(
        run.fails(),
        format!(
            "error: {target} is corrupt at byte {p}: the batch at byte {p} starts at offset {}, not after the previous batch's last offset {}",
            spans[1].2, spans[1].3
        )
    );

    // Stray bytes at the end, and trailing zeros (which are only reported).
    let (_d, target, run) = damaged(&dir, "log", |b| b.extend_from_slice(&[1, 2, 3]));
    let end = spans.last().map(|s| s.0 + s.1).unwrap();
    assert_eq!(
        run.fails(),
        format!("error: {target} is corrupt at byte {end}: 3 stray bytes at the end, too few for a batch's offset and length")
    );
    let (_d, _, run) = damaged(&dir, "log", |b| b.extend_from_slice(&[0; 100]));
    assert!(run.ok().contains(&format!("100 zero bytes from byte {end} to the end")));
}

#[test]
fn reports_index_corruption_precisely() {
    let (_broker, dir) = written_segment();
    let entries: Vec<(u64, u64)> = kzero(&["dump-log", &path(&dir, "index")])
        .ok()
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("offset: ")?;
            let (o, p) = rest.split_once(" position: ")?;
            Some((o.parse().unwrap(), p.parse().unwrap()))
        })
        .collect();
    let (o1, p1) = entries[1];

    // An entry that points one byte into a batch.
    let (_d, target, run) = damaged(&dir, "index", |b| {
        b[12..16].copy_from_slice(&(p1 as u32 + 1).to_be_bytes())
    });
    assert_eq!(
        run.fails(),
        format!("error: {target} is corrupt at byte 8: entry 1 (offset {o1}, position {}) does not point at the start of a batch in the log", p1 + 1)
    );

    // Entries out of order.
    let (_d, target, run) = damaged(&dir, "index", |b| {
        let first = b[0..8].to_vec();
        let second = b[8..16].to_vec();
        b[0..8].copy_from_slice(&second);
        b[8..16].copy_from_slice(&first);
    });
    let (o0, p0) = entries[0];
    assert!(
        run.fails().starts_with(&format!(
            "error: {target} is corrupt at byte 8: entry 1 (offset {o0}, position {p0}) does not follow the previous one (offset {o1}, position {p1}): entries must increase"
        )),
        "{}",
        run.stderr
    );

    // A torn last entry.
    let (_d, target, run) = damaged(&dir, "index", |b| {
        b.truncate(b.len() - 3);
    });
    let whole = (entries.len() - 1) * 8;
    assert_eq!(
        run.fails(),
        format!("error: {target} is corrupt at byte {whole}: 5 trailing bytes are not a whole 8-byte entry")
    );

    // A time-index entry whose timestamp is not the log's.
    let (_d, target, run) = damaged(&dir, "timeindex", |b| {
        let ts = i64::from_be_bytes(b[0..8].try_into().unwrap()) - 1;
        b[0..8].copy_from_slice(&ts.to_be_bytes());
    });
    let line = run.fails().to_string();
    assert!(
        line.starts_with(&format!("error: {target} is corrupt at byte 0: entry 0 (timestamp ")),
        "{line}"
    );
    assert!(
        line.contains("does not match the log: the largest timestamp up to offset"),
        "{line}"
    );

    // Without a 20-digit name, an index cannot be read.
    let copy = tempfile::tempdir().unwrap();
    let odd = copy.path().join("segment.index");
    std::fs::copy(path(&dir, "index"), &odd).unwrap();
    assert!(kzero(&["dump-log", odd.to_str().unwrap()])
        .fails()
        .contains("must be its segment's 20-digit base offset"));
}
