//! The four codecs, framed the way Kafka's Java clients frame them.
//!
//! - gzip: a GZIP stream.
//! - snappy: xerial snappy-java framing (magic `82 53 4e 41 50 50 59 00`, version, compatible version,
//!   then blocks of INT32 length + raw snappy); a buffer without the magic is read as one raw snappy block.
//! - lz4: the LZ4 frame format with independent blocks.
//! - zstd: a zstd frame.

use std::fmt;
use std::io::{Read, Write};

use super::BatchError;

/// A record batch compression codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression (0).
    #[default]
    None,
    /// gzip (1).
    Gzip,
    /// snappy with xerial framing (2).
    Snappy,
    /// LZ4 frame (3).
    Lz4,
    /// zstd (4).
    Zstd,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_HEADER: usize = 16;
/// snappy-java's default block size.
const XERIAL_BLOCK: usize = 32 * 1024;

impl Compression {
    /// Every codec, by id.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec with this attribute id.
    pub fn from_id(id: u8) -> Result<Compression, BatchError> {
        Compression::ALL
            .get(id as usize)
            .copied()
            .ok_or(BatchError::UnknownCompression { codec: id })
    }

    /// The attribute id (bits 0-2 of the batch attributes).
    pub fn id(self) -> u8 {
        self as u8
    }

    /// Kafka's name: `none`, `gzip`, `snappy`, `lz4`, `zstd`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// The codec with Kafka's name.
    pub fn from_name(name: &str) -> Option<Compression> {
        Compression::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Decompresses `data`, refusing output larger than `limit` bytes.
    pub fn decompress(self, data: &[u8], limit: usize) -> Result<bytes::Bytes, BatchError> {
        let fail = |reason: String| BatchError::Decompression { codec: self, reason };
        let out = match self {
            Compression::None => return Ok(bytes::Bytes::copy_from_slice(data)),
            Compression::Gzip => read_limited(flate2::read::GzDecoder::new(data), limit),
            Compression::Lz4 => read_limited(lz4_flex::frame::FrameDecoder::new(data), limit),
            Compression::Zstd => zstd::stream::read::Decoder::new(data)
                .map_err(|e| e.to_string())
                .and_then(|d| read_limited(d, limit)),
            Compression::Snappy => snappy_decompress(data, limit),
        };
        out.map(bytes::Bytes::from).map_err(fail)
    }

    /// Compresses `data` as Kafka's clients do.
    pub fn compress(self, data: &[u8]) -> Result<Vec<u8>, BatchError> {
        let fail = |e: std::io::Error| BatchError::Compression {
            codec: self,
            reason: e.to_string(),
        };
        match self {
            Compression::None => Ok(data.to_vec()),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).map_err(fail)?;
                e.finish().map_err(fail)
            }
            Compression::Lz4 => {
                let info = lz4_flex::frame::FrameInfo::new()
                    .block_mode(lz4_flex::frame::BlockMode::Independent)
                    .block_size(lz4_flex::frame::BlockSize::Max64KB);
                let mut e = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
                e.write_all(data).map_err(fail)?;
                e.finish().map_err(|e| BatchError::Compression {
                    codec: self,
                    reason: e.to_string(),
                })
            }
            Compression::Zstd => zstd::stream::encode_all(data, 3).map_err(fail),
            Compression::Snappy => {
                let mut out = Vec::with_capacity(XERIAL_HEADER + data.len() / 2);
                out.extend_from_slice(&XERIAL_MAGIC);
                out.extend_from_slice(&1i32.to_be_bytes());
                out.extend_from_slice(&1i32.to_be_bytes());
                let mut enc = snap::raw::Encoder::new();
                for chunk in data.chunks(XERIAL_BLOCK) {
                    let block = enc.compress_vec(chunk).map_err(|e| BatchError::Compression {
                        codec: self,
                        reason: e.to_string(),
                    })?;
                    out.extend_from_slice(&(block.len() as i32).to_be_bytes());
                    out.extend_from_slice(&block);
                }
                Ok(out)
            }
        }
    }
}

fn read_limited(r: impl Read, limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    r.take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() > limit {
        return Err(format!("decompressed size exceeds {limit} bytes"));
    }
    Ok(out)
}

fn snappy_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut dec = snap::raw::Decoder::new();
    let mut raw_block = |block: &[u8], out: &mut Vec<u8>| -> Result<(), String> {
        let n = snap::raw::decompress_len(block).map_err(|e| e.to_string())?;
        // Snappy expands at most 64 bytes per 3-byte copy tag, so a declared length beyond that ratio is a
        // lie: refuse it before allocating.
        if n > block.len().saturating_mul(22).saturating_add(64) {
            return Err(format!("snappy block of {} bytes claims {n} bytes", block.len()));
        }
        if out.len() + n > limit {
            return Err(format!("decompressed size exceeds {limit} bytes"));
        }
        let start = out.len();
        out.resize(start + n, 0);
        dec.decompress(block, &mut out[start..]).map_err(|e| e.to_string())?;
        Ok(())
    };
    let mut out = Vec::new();
    if !data.starts_with(&XERIAL_MAGIC) {
        raw_block(data, &mut out)?;
        return Ok(out);
    }
    if data.len() < XERIAL_HEADER {
        return Err("truncated xerial snappy header".into());
    }
    let mut pos = XERIAL_HEADER;
    while pos < data.len() {
        let Some(len) = data.get(pos..pos + 4) else {
            return Err("truncated xerial snappy block length".into());
        };
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        if len < 0 {
            return Err(format!("negative xerial snappy block length {len}"));
        }
        pos += 4;
        let Some(block) = data.get(pos..pos + len as usize) else {
            return Err("truncated xerial snappy block".into());
        };
        raw_block(block, &mut out)?;
        pos += len as usize;
    }
    Ok(out)
}
