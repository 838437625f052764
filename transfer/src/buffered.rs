//! The buffered copy path shared by copy mode, the sendfile fallback and TLS.
//!
//! File regions are read with `pread` into one reused buffer per connection, and byte pieces are gathered
//! into the same buffer, so a response leaves in buffer-sized writes (and, under TLS, in full-sized records)
//! whatever its pieces look like. The buffer is allocated on the first response that has a file region and
//! kept for the life of the connection.

use std::fmt;
use std::fs::File;
use std::future::poll_fn;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::AsyncWrite;

use crate::{Counters, Error};

/// Which counters the bytes of a [`Buffered`] go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Path {
    /// Plaintext: file bytes count as copied, byte pieces as memory bytes.
    Plain,
    /// TLS: everything counts as TLS bytes.
    Tls,
}

/// A writer with a lazily allocated, reused copy buffer.
pub(crate) struct Buffered<W> {
    inner: W,
    counters: Arc<Counters>,
    path: Path,
    capacity: usize,
    /// Empty until the first file region; then `capacity` bytes long.
    buf: Vec<u8>,
    /// INVARIANT: `filled <= buf.len()`; `buf[..filled]` is waiting to be written.
    pub(crate) filled: usize,
}

impl<W> fmt::Debug for Buffered<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffered")
            .field("path", &self.path)
            .field("capacity", &self.capacity)
            .field("allocated", &!self.buf.is_empty())
            .field("filled", &self.filled)
            .finish_non_exhaustive()
    }
}

impl<W: AsyncWrite + Unpin + Send> Buffered<W> {
    pub(crate) fn new(inner: W, counters: Arc<Counters>, path: Path, capacity: usize) -> Buffered<W> {
        Buffered {
            inner,
            counters,
            path,
            capacity: capacity.max(1),
            buf: Vec::new(),
            filled: 0,
        }
    }

    pub(crate) fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The size of the copy buffer, 0 while it has never been needed.
    pub(crate) fn allocated(&self) -> usize {
        self.buf.len()
    }

    /// Allocates the copy buffer (once).
    pub(crate) fn reserve(&mut self) {
        if self.buf.is_empty() {
            self.buf = vec![0; self.capacity];
        }
    }

    /// Appends bytes; writes them directly when there is no buffer or they are at least a buffer long.
    pub(crate) async fn push_bytes(&mut self, mut data: &[u8]) -> Result<(), Error> {
        match self.path {
            Path::Plain => self.counters.add_memory(data.len() as u64),
            Path::Tls => self.counters.add_tls(data.len() as u64),
        }
        while !data.is_empty() {
            if self.filled == 0 && (self.buf.is_empty() || data.len() >= self.buf.len()) {
                return write_all(&mut self.inner, &self.counters, data).await;
            }
            let n = (self.buf.len() - self.filled).min(data.len());
            self.buf[self.filled..self.filled + n].copy_from_slice(&data[..n]);
            self.filled += n;
            data = &data[n..];
            if self.filled == self.buf.len() {
                self.drain().await?;
            }
        }
        Ok(())
    }

    /// Appends the bytes `from..range.end` of `file` (part of the region `range`), reading them with `pread`.
    pub(crate) async fn push_file(&mut self, file: &File, range: &Range<u64>, from: u64) -> Result<(), Error> {
        self.reserve();
        let mut offset = from;
        // INVARIANT: `offset` is the next file byte to read, and everything before it is in the buffer or sent.
        while offset < range.end {
            if self.filled == self.buf.len() {
                self.drain().await?;
            }
            let want = (self.buf.len() - self.filled).min(usize::try_from(range.end - offset).unwrap_or(usize::MAX));
            let n = match file.read_at(&mut self.buf[self.filled..self.filled + want], offset) {
                Ok(0) => {
                    return Err(Error::Truncated {
                        range: range.clone(),
                        end_of_file: offset,
                    })
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(Error::ReadFile {
                        range: range.clone(),
                        offset,
                        source,
                    })
                }
            };
            self.filled += n;
            offset += n as u64;
            match self.path {
                Path::Plain => self.counters.add_copy(n as u64),
                Path::Tls => self.counters.add_tls(n as u64),
            }
        }
        Ok(())
    }

    /// Writes out whatever is buffered.
    pub(crate) async fn drain(&mut self) -> Result<(), Error> {
        if self.filled > 0 {
            write_all(&mut self.inner, &self.counters, &self.buf[..self.filled]).await?;
            self.filled = 0;
        }
        Ok(())
    }

    /// Writes out whatever is buffered and flushes the writer (under TLS: pushes out pending records).
    pub(crate) async fn flush(&mut self) -> Result<(), Error> {
        self.drain().await?;
        poll_fn(|cx| Pin::new(&mut self.inner).poll_flush(cx))
            .await
            .map_err(|source| Error::Write { source })
    }

    /// Flushes, then shuts the write side down (under TLS: sends `close_notify` first).
    pub(crate) async fn shutdown(&mut self) -> Result<(), Error> {
        self.flush().await?;
        poll_fn(|cx| Pin::new(&mut self.inner).poll_shutdown(cx))
            .await
            .map_err(|source| Error::Write { source })
    }
}

/// Writes all of `data`, counting the times the writer was not ready.
async fn write_all<W: AsyncWrite + Unpin>(inner: &mut W, counters: &Counters, mut data: &[u8]) -> Result<(), Error> {
    while !data.is_empty() {
        let n = poll_fn(|cx| {
            let poll = Pin::new(&mut *inner).poll_write(cx, data);
            if poll.is_pending() {
                counters.add_write_wait();
            }
            poll
        })
        .await
        .map_err(|source| Error::Write { source })?;
        if n == 0 {
            return Err(Error::Write {
                source: io::ErrorKind::WriteZero.into(),
            });
        }
        data = &data[n..];
    }
    Ok(())
}
