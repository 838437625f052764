//! `kzero dump-log PATH...`: decode log segments and their indexes offline, like Kafka's
//! `kafka-dump-log.sh`, and report corruption precisely (byte position and what is wrong).
//!
//! ```text
//! NNNNNNNNNNNNNNNNNNNN.log        record batches back to back, exactly as on the wire (magic 2)
//! NNNNNNNNNNNNNNNNNNNN.index      8-byte entries: relative offset INT32 | position INT32
//! NNNNNNNNNNNNNNNNNNNN.timeindex 12-byte entries: timestamp INT64 | relative offset INT32
//! ```
//! The 20-digit file name is the segment's base offset. An index's length is its entry count, but an
//! active segment's index is preallocated (zero-filled) and only trimmed when the segment rolls or the
//! broker stops cleanly, so zero entries are the unused tail, not data: they are counted, not listed.
//! When the `.log` sits beside an index, every entry is checked against the batches in it.
//!
//! Output follows Kafka's tool (`baseOffset: 0 lastOffset: 9 count: 10 ...`, and `| offset: ...` per
//! record with `--records`). Every problem is a line starting with `CORRUPT at byte N:`; when there is
//! one, the command ends with a one-line error naming the first and exits with status 1.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use protocol::record::{batch_crc, BatchHeader, RecordBatch, BATCH_HEADER_SIZE, LOG_OVERHEAD, MAGIC_OFFSET, MAGIC_V2};

#[derive(Debug, Args)]
pub struct DumpLogArgs {
    /// Segment files (.log), offset indexes (.index), time indexes (.timeindex), or partition directories.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Also decode and print every record: offset, timestamp, key, value and headers.
    #[arg(short, long)]
    records: bool,
    /// Do not check index entries against the .log file beside them.
    #[arg(long)]
    no_log_check: bool,
}

/// One problem found in a file.
#[derive(Debug)]
struct Problem {
    file: PathBuf,
    position: u64,
    what: String,
}

struct Dumper<'a> {
    args: &'a DumpLogArgs,
    out: Box<dyn Write + 'a>,
    problems: Vec<Problem>,
}

pub fn run(args: DumpLogArgs) -> Result<ExitCode> {
    let mut files = Vec::new();
    for p in &args.paths {
        if p.is_dir() {
            let mut in_dir: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot read directory {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| kind(f).is_some())
                .collect();
            in_dir.sort_by_key(|f| (f.file_stem().map(|s| s.to_os_string()), kind(f)));
            files.extend(in_dir);
        } else {
            files.push(p.clone());
        }
    }
    let stdout = io::stdout();
    let mut d = Dumper {
        args: &args,
        out: Box::new(io::BufWriter::new(stdout.lock())),
        problems: Vec::new(),
    };
    for f in &files {
        match kind(f) {
            Some(Kind::Log) => d.log(f)?,
            Some(Kind::Index) => d.index(f)?,
            Some(Kind::TimeIndex) => d.time_index(f)?,
            None => bail!("cannot dump {}: not a .log, .index or .timeindex file", f.display()),
        }
    }
    if let Some(first) = d.problems.first() {
        writeln!(d.out, "Found {} problem(s).", d.problems.len())?;
        d.out.flush()?;
        let more = match d.problems.len() {
            1 => String::new(),
            n => format!(" (and {} more problems, listed above)", n - 1),
        };
        bail!(
            "{} is corrupt at byte {}: {}{more}",
            first.file.display(),
            first.position,
            first.what
        );
    }
    d.out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Log,
    Index,
    TimeIndex,
}

fn kind(p: &Path) -> Option<Kind> {
    match p.extension()?.to_str()? {
        "log" => Some(Kind::Log),
        "index" => Some(Kind::Index),
        "timeindex" => Some(Kind::TimeIndex),
        _ => None,
    }
}

/// The base offset a segment file's 20-digit name states.
fn base_offset(p: &Path) -> Option<i64> {
    let stem = p.file_stem()?.to_str()?;
    if stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()) {
        stem.parse().ok()
    } else {
        None
    }
}

/// One batch's place in a log, from its header.
#[derive(Debug, Clone, Copy)]
struct BatchSpan {
    position: u64,
    base_offset: i64,
    last_offset: i64,
    max_timestamp: i64,
}

fn open(p: &Path) -> Result<(File, u64)> {
    let f = File::open(p).map_err(|e| anyhow!("cannot open {}: {}", p.display(), crate::client::io_reason(&e)))?;
    let len = f
        .metadata()
        .map_err(|e| anyhow!("cannot read {}: {e}", p.display()))?
        .len();
    Ok((f, len))
}

fn read_at(f: &File, p: &Path, buf: &mut [u8], at: u64) -> Result<()> {
    f.read_exact_at(buf, at).map_err(|e| {
        anyhow!(
            "cannot read {} at byte {at}: {}",
            p.display(),
            crate::client::io_reason(&e)
        )
    })
}

/// Text for bytes: as is when printable UTF-8, else with escapes (`\xff`, `\n`).
fn show(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_string(),
        _ => b.escape_ascii().to_string(),
    }
}

/// What the walk of a log found at one position.
enum Step {
    /// A batch header that parses, of this many bytes (all present).
    Batch(usize),
    /// The walk cannot go on; the problem is recorded.
    Stop,
    /// Only zeros from here on.
    ZeroTail,
}

impl Dumper<'_> {
    fn problem(&mut self, file: &Path, position: u64, what: String) -> Result<()> {
        writeln!(self.out, "CORRUPT at byte {position}: {what}")?;
        self.problems.push(Problem {
            file: file.to_path_buf(),
            position,
            what,
        });
        Ok(())
    }

    /// Looks at the bytes at `pos`: a whole batch, a zero tail, or something broken (recorded).
    fn step(&mut self, f: &File, path: &Path, pos: u64, len: u64, buf: &mut Vec<u8>, quiet: bool) -> Result<Step> {
        let remaining = len - pos;
        let head_len = remaining.min(BATCH_HEADER_SIZE as u64) as usize;
        buf.resize(head_len, 0);
        read_at(f, path, buf, pos)?;
        if buf.iter().all(|&b| b == 0) && zero_from(f, path, pos, len)? {
            return Ok(Step::ZeroTail);
        }
        let report = |d: &mut Self, at: u64, what: String| -> Result<Step> {
            if !quiet {
                d.problem(path, at, what)?;
            }
            Ok(Step::Stop)
        };
        if remaining < LOG_OVERHEAD as u64 {
            return report(
                self,
                pos,
                format!("{remaining} stray bytes at the end, too few for a batch's offset and length"),
            );
        }
        let length = i32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        if length < (BATCH_HEADER_SIZE - LOG_OVERHEAD) as i32 {
            return report(
                self,
                pos + 8,
                format!(
                    "invalid batch length {length} (a batch holds at least {} bytes after its length field)",
                    BATCH_HEADER_SIZE - LOG_OVERHEAD
                ),
            );
        }
        if remaining <= MAGIC_OFFSET as u64 {
            return report(
                self,
                pos,
                format!("truncated batch: {remaining} bytes left, a batch header needs {BATCH_HEADER_SIZE}"),
            );
        }
        let magic = buf[MAGIC_OFFSET] as i8;
        if magic != MAGIC_V2 {
            return report(
                self,
                pos + MAGIC_OFFSET as u64,
                format!(
                    "magic byte {magic}, expected 2{}",
                    if (0..=1).contains(&magic) {
                        " (legacy message format, not supported)"
                    } else {
                        ""
                    }
                ),
            );
        }
        let size = LOG_OVERHEAD as u64 + length as u64;
        if size > remaining {
            return report(
                self,
                pos,
                format!("truncated batch: its length field says {size} bytes, only {remaining} remain in the file"),
            );
        }
        Ok(Step::Batch(size as usize))
    }

    fn log(&mut self, path: &Path) -> Result<()> {
        let (f, len) = open(path)?;
        let base = base_offset(path);
        writeln!(self.out, "Dumping {}", path.display())?;
        match base {
            Some(b) => writeln!(self.out, "Log starting offset: {b}")?,
            None => writeln!(
                self.out,
                "Log starting offset: unknown (the file name is not a 20-digit offset)"
            )?,
        }
        let mut pos = 0u64;
        let mut buf = Vec::new();
        let mut previous_last: Option<i64> = None;
        while pos < len {
            let size = match self.step(&f, path, pos, len, &mut buf, false)? {
                Step::Batch(size) => size,
                Step::Stop => {
                    writeln!(self.out, "Cannot read past byte {pos} of {len}.")?;
                    return Ok(());
                }
                Step::ZeroTail => {
                    writeln!(
                        self.out,
                        "{} zero bytes from byte {pos} to the end (preallocated space or a torn write; no batches)",
                        len - pos
                    )?;
                    return Ok(());
                }
            };
            buf.resize(size, 0);
            read_at(&f, path, &mut buf, pos)?;
            let (batch, _) = RecordBatch::parse(&buf).map_err(|e| anyhow!("byte {pos}: {e}"))?;
            let h = batch.header();
            let computed = batch_crc(&buf);
            let crc_ok = computed == h.crc();
            self.print_batch(&h, pos, crc_ok)?;
            if !crc_ok {
                self.problem(
                    path,
                    pos,
                    format!(
                        "the batch at byte {pos} (offsets {}-{}, {size} bytes) fails its CRC: stored {:#010x}, computed {:#010x} over bytes {}-{}",
                        h.base_offset(),
                        h.last_offset(),
                        h.crc(),
                        computed,
                        pos + 21,
                        pos + size as u64 - 1
                    ),
                )?;
            }
            self.check_batch(path, pos, &h, base, previous_last)?;
            previous_last = Some(h.last_offset());
            if self.args.records {
                self.print_records(path, pos, &batch, crc_ok)?;
            }
            pos += size as u64;
        }
        Ok(())
    }

    fn print_batch(&mut self, h: &BatchHeader<'_>, pos: u64, crc_ok: bool) -> Result<()> {
        let seq = h.base_sequence();
        let last_seq = if seq < 0 {
            -1
        } else {
            seq.wrapping_add(h.last_offset_delta()) & i32::MAX
        };
        let codec = h
            .compression()
            .map_or_else(|_| format!("unknown({})", h.attributes() & 7), |c| c.name().to_string());
        writeln!(
            self.out,
            "baseOffset: {} lastOffset: {} count: {} baseSequence: {seq} lastSequence: {last_seq} producerId: {} \
             producerEpoch: {} partitionLeaderEpoch: {} isTransactional: {} isControl: {} position: {pos} \
             {}: {} size: {} magic: {} compresscodec: {codec} crc: {} isvalid: {crc_ok}",
            h.base_offset(),
            h.last_offset(),
            h.records_count(),
            h.producer_id(),
            h.producer_epoch(),
            h.partition_leader_epoch(),
            h.is_transactional(),
            h.is_control(),
            if h.is_log_append_time() {
                "LogAppendTime"
            } else {
                "CreateTime"
            },
            h.max_timestamp(),
            h.size_in_bytes(),
            h.magic(),
            h.crc(),
        )?;
        Ok(())
    }

    fn check_batch(
        &mut self,
        path: &Path,
        pos: u64,
        h: &BatchHeader<'_>,
        base: Option<i64>,
        previous_last: Option<i64>,
    ) -> Result<()> {
        if let Some(b) = base {
            if h.base_offset() < b {
                self.problem(
                    path,
                    pos,
                    format!(
                        "the batch at byte {pos} starts at offset {}, below the segment's base offset {b}",
                        h.base_offset()
                    ),
                )?;
            }
        }
        if let Some(prev) = previous_last {
            if h.base_offset() <= prev {
                self.problem(
                    path,
                    pos,
                    format!(
                        "the batch at byte {pos} starts at offset {}, not after the previous batch's last offset {prev}",
                        h.base_offset()
                    ),
                )?;
            }
        }
        if h.last_offset_delta() < 0 || i64::from(h.records_count()) > i64::from(h.last_offset_delta()) + 1 {
            self.problem(
                path,
                pos + 23,
                format!(
                    "the batch at byte {pos} counts {} records but spans {} offsets (last offset delta {})",
                    h.records_count(),
                    i64::from(h.last_offset_delta()) + 1,
                    h.last_offset_delta()
                ),
            )?;
        }
        if h.compression().is_err() {
            self.problem(
                path,
                pos + 21,
                format!(
                    "the batch at byte {pos} names unknown compression codec {}",
                    h.attributes() & 7
                ),
            )?;
        }
        Ok(())
    }

    fn print_records(&mut self, path: &Path, pos: u64, batch: &RecordBatch<'_>, crc_ok: bool) -> Result<()> {
        let h = batch.header();
        let records = match batch.records() {
            Ok(r) => r,
            Err(e) => {
                if crc_ok {
                    self.problem(
                        path,
                        pos + BATCH_HEADER_SIZE as u64,
                        format!("the batch at byte {pos}: {e}"),
                    )?;
                }
                return Ok(());
            }
        };
        for r in records {
            let r = match r {
                Ok(r) => r,
                Err(e) => {
                    if crc_ok {
                        self.problem(
                            path,
                            pos + BATCH_HEADER_SIZE as u64,
                            format!("the batch at byte {pos}: {e}"),
                        )?;
                    }
                    return Ok(());
                }
            };
            let offset = h.base_offset() + i64::from(r.offset_delta);
            let (ts_name, ts) = if h.is_log_append_time() {
                ("LogAppendTime", h.max_timestamp())
            } else {
                ("CreateTime", h.base_timestamp() + r.timestamp_delta)
            };
            let sequence = if h.base_sequence() < 0 {
                -1
            } else {
                h.base_sequence().wrapping_add(r.offset_delta) & i32::MAX
            };
            let size = |b: &Option<bytes::Bytes>| b.as_ref().map_or(-1, |b| b.len() as i64);
            let headers: Vec<String> = r
                .headers
                .iter()
                .map(|hd| match &hd.value {
                    Some(v) => format!("{}={}", show(&hd.key), show(v)),
                    None => format!("{}=null", show(&hd.key)),
                })
                .collect();
            writeln!(
                self.out,
                "| offset: {offset} {ts_name}: {ts} keySize: {} valueSize: {} sequence: {sequence} headers: [{}] key: {} payload: {}",
                size(&r.key),
                size(&r.value),
                headers.join(","),
                r.key.as_deref().map_or_else(|| "null".to_string(), show),
                r.value.as_deref().map_or_else(|| "null".to_string(), show),
            )?;
        }
        Ok(())
    }

    /// The batches of the `.log` beside an index, headers only; `None` if there is none.
    fn log_spans(&mut self, index: &Path) -> Result<Option<Vec<BatchSpan>>> {
        if self.args.no_log_check {
            return Ok(None);
        }
        let log = index.with_extension("log");
        let Ok((f, len)) = open(&log) else {
            writeln!(
                self.out,
                "(no {} beside it: entries are not checked against the log)",
                log.display()
            )?;
            return Ok(None);
        };
        let mut spans = Vec::new();
        let mut pos = 0u64;
        let mut buf = Vec::new();
        while pos < len {
            let Step::Batch(size) = self.step(&f, &log, pos, len, &mut buf, true)? else {
                break;
            };
            if let Ok(h) = BatchHeader::parse(&buf) {
                spans.push(BatchSpan {
                    position: pos,
                    base_offset: h.base_offset(),
                    last_offset: h.last_offset(),
                    max_timestamp: h.max_timestamp(),
                });
            }
            pos += size as u64;
        }
        Ok(Some(spans))
    }

    /// Dumps an index file of `width`-byte entries: a header line, one line per entry from `entry`, the
    /// preallocated zero tail, and a torn last entry. `entry` gets the entry's bytes, its number, the
    /// segment's base offset and the log's batch spans (when the `.log` is beside it), and returns the line
    /// to print and the problems found.
    fn index_file(
        &mut self,
        path: &Path,
        width: usize,
        suffix: &str,
        mut entry: impl FnMut(&[u8], usize, i64, Option<&[BatchSpan]>) -> (String, Vec<String>),
    ) -> Result<()> {
        let base = base_offset(path).ok_or_else(|| {
            anyhow!(
                "cannot tell the base offset of {}: an index's name must be its segment's 20-digit base offset, like 00000000000000000000.{suffix}",
                path.display()
            )
        })?;
        let data = std::fs::read(path)
            .map_err(|e| anyhow!("cannot read {}: {}", path.display(), crate::client::io_reason(&e)))?;
        writeln!(self.out, "Dumping {}", path.display())?;
        let spans = self.log_spans(path)?;
        let whole = data.len() / width * width;
        let mut i = 0;
        while i < whole {
            let e = &data[i..i + width];
            if e.iter().all(|&b| b == 0) && data[i..whole].iter().all(|&b| b == 0) {
                writeln!(
                    self.out,
                    "{} zero entries from byte {i} to byte {whole}: the unused preallocated tail (an active segment, or the broker did not stop cleanly)",
                    (whole - i) / width
                )?;
                break;
            }
            let (line, problems) = entry(e, i / width, base, spans.as_deref());
            writeln!(self.out, "{line}")?;
            for what in problems {
                self.problem(path, i as u64, what)?;
            }
            i += width;
        }
        if whole != data.len() {
            self.problem(
                path,
                whole as u64,
                format!(
                    "{} trailing bytes are not a whole {width}-byte entry",
                    data.len() - whole
                ),
            )?;
        }
        Ok(())
    }

    fn index(&mut self, path: &Path) -> Result<()> {
        let mut previous: Option<(i64, u32)> = None;
        self.index_file(path, 8, "index", |e, n, base, spans| {
            let rel = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
            let position = u32::from_be_bytes([e[4], e[5], e[6], e[7]]);
            let offset = base + i64::from(rel);
            let mut problems = Vec::new();
            if rel > i32::MAX as u32 {
                problems.push(format!("entry {n} has a negative relative offset"));
            }
            if let Some((po, pp)) = previous {
                if offset <= po || position <= pp {
                    problems.push(format!(
                        "entry {n} (offset {offset}, position {position}) does not follow the previous one (offset {po}, position {pp}): entries must increase"
                    ));
                }
            }
            previous = Some((offset, position));
            if let Some(what) = spans.and_then(|s| check_index_entry(s, offset, u64::from(position))) {
                problems.push(format!("entry {n} (offset {offset}, position {position}) {what}"));
            }
            (format!("offset: {offset} position: {position}"), problems)
        })
    }

    fn time_index(&mut self, path: &Path) -> Result<()> {
        let mut previous: Option<(i64, i64)> = None;
        self.index_file(path, 12, "timeindex", |e, n, base, spans| {
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&e[..8]);
            let timestamp = i64::from_be_bytes(ts);
            let rel = u32::from_be_bytes([e[8], e[9], e[10], e[11]]);
            let offset = base + i64::from(rel);
            let mut problems = Vec::new();
            if let Some((pt, po)) = previous {
                if timestamp <= pt || offset < po {
                    problems.push(format!(
                        "entry {n} (timestamp {timestamp}, offset {offset}) does not follow the previous one (timestamp {pt}, offset {po}): timestamps must increase and offsets must not decrease"
                    ));
                }
            }
            previous = Some((timestamp, offset));
            if let Some(what) = spans.and_then(|s| check_time_entry(s, timestamp, offset)) {
                problems.push(format!("entry {n} (timestamp {timestamp}, offset {offset}) {what}"));
            }
            (format!("timestamp: {timestamp} offset: {offset}"), problems)
        })
    }
}

/// True if every byte of the file from `pos` on is zero.
fn zero_from(f: &File, path: &Path, pos: u64, len: u64) -> Result<bool> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = pos;
    while at < len {
        let n = ((len - at) as usize).min(buf.len());
        read_at(f, path, &mut buf[..n], at)?;
        if buf[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
        at += n as u64;
    }
    Ok(true)
}

/// An offset-index entry maps the last offset of an append to the position where that append starts,
/// so the position must be a batch start and the offset the last offset of a batch from there on.
fn check_index_entry(spans: &[BatchSpan], offset: i64, position: u64) -> Option<String> {
    let Ok(i) = spans.binary_search_by_key(&position, |s| s.position) else {
        return Some(match spans.last() {
            Some(last) if position > last.position => {
                format!(
                    "points past the last batch of the log (which starts at byte {})",
                    last.position
                )
            }
            _ => "does not point at the start of a batch in the log".to_string(),
        });
    };
    let at = spans[i];
    if offset < at.base_offset || !spans[i..].iter().any(|s| s.last_offset == offset) {
        return Some(format!(
            "does not match the log: the batch at byte {position} holds offsets {}-{}",
            at.base_offset, at.last_offset
        ));
    }
    None
}

/// A time-index entry is (the largest timestamp so far, the last offset of the append that brought it),
/// so the batches up to the one holding the offset must have exactly that largest timestamp.
fn check_time_entry(spans: &[BatchSpan], timestamp: i64, offset: i64) -> Option<String> {
    let Some(i) = spans
        .iter()
        .position(|s| s.base_offset <= offset && offset <= s.last_offset)
    else {
        return Some("names an offset that is in no batch of the log".to_string());
    };
    let max = spans[..=i].iter().map(|s| s.max_timestamp).max().unwrap_or(-1);
    if max != timestamp {
        return Some(format!(
            "does not match the log: the largest timestamp up to offset {offset} is {max}"
        ));
    }
    None
}
