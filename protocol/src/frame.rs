//! Framing: every Kafka request and response is an INT32 size, then that many bytes.
//!
//! ```text
//! +----------------+---------------------------+
//! | size: INT32 BE | size bytes (header+body)  |
//! +----------------+---------------------------+
//! ```
//! A negative size or one above the configured maximum is an error (Kafka closes the connection);
//! a size of 0 is legal. An incomplete frame is not an error: the decoder asks for more bytes.

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::error::Error;

/// Kafka's default `socket.request.max.bytes`: 100 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 100 * 1024 * 1024;

/// A `tokio_util` codec for size-prefixed frames.
///
/// Decoding yields the frame contents without the size prefix; encoding writes the size prefix and the
/// contents. Message encoders in this crate write whole frames themselves (see [`crate::Request::encode`]),
/// so the encoder is for raw frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameCodec {
    max_frame_size: usize,
}

impl Default for FrameCodec {
    fn default() -> Self {
        FrameCodec::new(DEFAULT_MAX_FRAME_SIZE)
    }
}

impl FrameCodec {
    /// A codec that rejects frames larger than `max_frame_size` bytes.
    pub fn new(max_frame_size: usize) -> Self {
        FrameCodec { max_frame_size }
    }

    /// The configured maximum.
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }
}

impl Decoder for FrameCodec {
    type Item = BytesMut;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, Error> {
        if src.len() < 4 {
            src.reserve(4 - src.len());
            return Ok(None);
        }
        let size = i32::from_be_bytes([src[0], src[1], src[2], src[3]]);
        if size < 0 {
            return Err(Error::NegativeFrameSize { size });
        }
        let size = size as usize;
        if size > self.max_frame_size {
            return Err(Error::FrameTooLarge {
                size,
                max: self.max_frame_size,
            });
        }
        if src.len() < 4 + size {
            src.reserve(4 + size - src.len());
            return Ok(None);
        }
        src.advance(4);
        Ok(Some(src.split_to(size)))
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = Error;

    fn encode(&mut self, frame: Bytes, dst: &mut BytesMut) -> Result<(), Error> {
        if frame.len() > self.max_frame_size {
            return Err(Error::FrameTooLarge {
                size: frame.len(),
                max: self.max_frame_size,
            });
        }
        dst.reserve(4 + frame.len());
        crate::api::put_frame(dst, &frame)
    }
}
