//! [`PlaintextTransportLayer`]: file regions go out with `sendfile(2)`, byte pieces with `send(2)`.
//!
//! Every system call goes through [`TcpStream::async_io`], which waits for writability, retries after
//! `EAGAIN` and takes part in tokio's cooperative budget, so a connection whose peer reads slowly only parks
//! its own task, and one whose peer reads fast still lets other tasks run.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;

use nix::errno::Errno;
use nix::sys::sendfile::sendfile64;
use nix::sys::socket::{send, MsgFlags};
use tokio::io::Interest;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use crate::buffered::{Buffered, Path};
use crate::chunk::validate;
use crate::{Chunk, Coalesce, Config, Counters, Error, Mode, TransportLayer};

/// The largest count passed to one `sendfile(2)` call (Linux caps every call at 0x7fff_f000 bytes). Internal
/// tests use a small cap, so that regions larger than one call are covered without gigabytes of data.
const MAX_SENDFILE: u64 = if cfg!(test) { 100_000 } else { 0x7fff_f000 };

/// A plaintext TCP connection's write side.
///
/// In [`Mode::Sendfile`] file regions go from the page cache to the socket with `sendfile(2)` and never
/// enter the process; in [`Mode::Copy`] they are read with `pread` into a reused buffer and written.
#[derive(Debug)]
pub struct PlaintextTransportLayer {
    pub(crate) io: Buffered<OwnedWriteHalf>,
    mode: Mode,
    coalesce: Coalesce,
    counters: Arc<Counters>,
    /// Whether `TCP_CORK` is set and not yet released by a flush.
    corked: bool,
    /// Set after `sendfile` returned `ENOSYS`: this connection copies from then on.
    sendfile_unavailable: bool,
}

/// How a `sendfile` loop ended when it did not finish the region.
enum Stop {
    /// `sendfile` is not usable for this file (`EINVAL`) or at all (`ENOSYS`): copy from `offset` on.
    Fallback { offset: u64, errno: Errno },
}

impl PlaintextTransportLayer {
    /// Splits a connected stream: the read half is the caller's (for its request framing), the write half
    /// becomes the transport. Sets `TCP_NODELAY` if the configuration asks for it.
    pub fn split(
        stream: TcpStream,
        config: &Config,
        counters: Arc<Counters>,
    ) -> Result<(OwnedReadHalf, PlaintextTransportLayer), Error> {
        if config.nodelay {
            stream.set_nodelay(true).map_err(|source| Error::SocketOption {
                option: "TCP_NODELAY",
                source,
            })?;
        }
        let (read, write) = stream.into_split();
        Ok((read, PlaintextTransportLayer::new(write, config, counters)))
    }

    /// A transport over a write half the caller already split off (socket options are left as they are).
    pub fn new(write: OwnedWriteHalf, config: &Config, counters: Arc<Counters>) -> PlaintextTransportLayer {
        PlaintextTransportLayer {
            io: Buffered::new(write, counters.clone(), Path::Plain, config.copy_buffer_size),
            mode: config.mode,
            coalesce: config.coalesce,
            counters,
            corked: false,
            sendfile_unavailable: false,
        }
    }

    /// The underlying write half (for its addresses or socket options).
    pub fn get_ref(&self) -> &OwnedWriteHalf {
        self.io.get_ref()
    }

    /// The size of the copy buffer, or 0 if this connection never copied a file region (what a sendfile-mode
    /// connection should show: file bytes never entered a user-space buffer).
    pub fn copy_buffer_allocated(&self) -> usize {
        self.io.allocated()
    }

    fn stream(&self) -> &TcpStream {
        self.io.get_ref().as_ref()
    }

    fn set_cork(&mut self, cork: bool) -> Result<(), Error> {
        socket2::SockRef::from(self.stream())
            .set_tcp_cork(cork)
            .map_err(|source| Error::SocketOption {
                option: "TCP_CORK",
                source,
            })?;
        self.corked = cork;
        Ok(())
    }

    async fn feed_copy(&mut self, response: &[Chunk]) -> Result<(), Error> {
        if response
            .iter()
            .any(|c| matches!(c, Chunk::File { .. }) && !c.is_empty())
        {
            self.io.reserve();
        }
        for chunk in response {
            match chunk {
                Chunk::Bytes(b) => self.io.push_bytes(b).await?,
                Chunk::File { file, range } => self.io.push_file(file, range, range.start).await?,
            }
        }
        Ok(())
    }

    async fn feed_sendfile(&mut self, response: &[Chunk]) -> Result<(), Error> {
        let pieces = response.iter().filter(|c| !c.is_empty()).count();
        if self.coalesce == Coalesce::Cork && pieces > 1 && !self.corked {
            self.set_cork(true)?;
        }
        let mut left = pieces;
        for chunk in response.iter().filter(|c| !c.is_empty()) {
            left -= 1;
            match chunk {
                Chunk::Bytes(b) => {
                    let more = self.coalesce == Coalesce::MsgMore && left > 0;
                    self.send_bytes(b, more).await?;
                }
                Chunk::File { file, range } => self.send_region(file, range).await?,
            }
        }
        Ok(())
    }

    /// Writes bytes with `send(2)`: `MSG_NOSIGNAL`, plus `MSG_MORE` when more of the response follows.
    async fn send_bytes(&mut self, mut data: &[u8], more: bool) -> Result<(), Error> {
        let mut flags = MsgFlags::MSG_NOSIGNAL;
        if more {
            flags |= MsgFlags::from_bits_retain(libc::MSG_MORE);
        }
        let len = data.len() as u64;
        let stream = self.io.get_ref().as_ref();
        let counters = &self.counters;
        while !data.is_empty() {
            let n = stream
                .async_io(Interest::WRITABLE, || {
                    let sent = send(stream.as_raw_fd(), data, flags).map_err(io::Error::from);
                    count_wait(counters, &sent);
                    sent
                })
                .await
                .map_err(|source| Error::Write { source })?;
            data = &data[n..];
        }
        self.counters.add_memory(len);
        Ok(())
    }

    /// Sends a file region with `sendfile(2)`, copying it instead where `sendfile` cannot be used.
    async fn send_region(&mut self, file: &File, range: &Range<u64>) -> Result<(), Error> {
        let from = if self.sendfile_unavailable {
            range.start
        } else {
            match self.sendfile_loop(file, range).await? {
                None => return Ok(()),
                Some(Stop::Fallback { offset, errno }) => {
                    tracing::debug!(%errno, offset, "sendfile unusable for this file region, copying it instead");
                    self.counters.add_fallback();
                    if errno == Errno::ENOSYS {
                        self.sendfile_unavailable = true;
                    }
                    offset
                }
            }
        };
        self.io.push_file(file, range, from).await?;
        self.io.drain().await
    }

    /// The `sendfile(2)` loop. Returns `None` when the whole region was sent.
    async fn sendfile_loop(&self, file: &File, range: &Range<u64>) -> Result<Option<Stop>, Error> {
        let stream = self.stream();
        let counters = &self.counters;
        let Ok(mut offset) = i64::try_from(range.start) else {
            return Err(Error::InvalidRange { range: range.clone() });
        };
        // INVARIANT: `offset` is the next file byte to send; the kernel advances it by what each call sent.
        while (offset as u64) < range.end {
            let count = (range.end - offset as u64).min(MAX_SENDFILE) as usize;
            let result = stream
                .async_io(Interest::WRITABLE, || {
                    let sent =
                        sendfile64(stream.as_fd(), file.as_fd(), Some(&mut offset), count).map_err(io::Error::from);
                    count_wait(counters, &sent);
                    sent
                })
                .await;
            match result {
                Ok(0) => {
                    return Err(Error::Truncated {
                        range: range.clone(),
                        end_of_file: offset as u64,
                    })
                }
                Ok(n) => counters.add_sendfile(n as u64),
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => {
                    let errno = Errno::from_raw(e.raw_os_error().unwrap_or_default());
                    return Ok(Some(Stop::Fallback {
                        offset: offset as u64,
                        errno,
                    }));
                }
                Err(source) => {
                    return Err(Error::SendFile {
                        range: range.clone(),
                        offset: offset as u64,
                        source,
                    })
                }
            }
        }
        Ok(None)
    }
}

fn count_wait(counters: &Counters, result: &io::Result<usize>) {
    if matches!(result, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
        counters.add_write_wait();
    }
}

impl TransportLayer for PlaintextTransportLayer {
    async fn feed_response(&mut self, response: &[Chunk]) -> Result<u64, Error> {
        let total = validate(response)?;
        match self.mode {
            Mode::Copy => self.feed_copy(response).await?,
            Mode::Sendfile => self.feed_sendfile(response).await?,
        }
        self.counters.add_response();
        Ok(total)
    }

    async fn flush(&mut self) -> Result<(), Error> {
        self.io.flush().await?;
        if self.corked {
            self.set_cork(false)?;
        }
        Ok(())
    }

    async fn shutdown(&mut self) -> Result<(), Error> {
        self.flush().await?;
        self.io.shutdown().await
    }

    fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }
}

#[cfg(test)]
mod tests;
