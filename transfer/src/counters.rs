//! [`Counters`]: byte totals per path, shared by all the connections of a broker for its metrics.

use std::sync::atomic::{AtomicU64, Ordering};

/// Running totals, updated with relaxed atomics as bytes go out.
///
/// Share one `Arc<Counters>` among many transports (one per listener, or one per broker) and read it from a
/// metrics endpoint with [`Counters::snapshot`]. Bytes are counted when the transport hands them to the kernel
/// (or, on the buffered paths, when they enter the buffer), so after an error the totals can include bytes
/// the peer never received.
#[derive(Debug, Default)]
pub struct Counters {
    sendfile_bytes: AtomicU64,
    copy_bytes: AtomicU64,
    memory_bytes: AtomicU64,
    tls_bytes: AtomicU64,
    sendfile_fallbacks: AtomicU64,
    responses: AtomicU64,
    write_waits: AtomicU64,
}

/// A copy of [`Counters`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    /// File bytes sent with `sendfile(2)`, never entering user space.
    pub sendfile_bytes: u64,
    /// File bytes read with `pread` and written on a plaintext connection (copy mode and the sendfile fallback).
    pub copy_bytes: u64,
    /// Bytes from [`Chunk::Bytes`](crate::Chunk::Bytes) written on a plaintext connection.
    pub memory_bytes: u64,
    /// Bytes of either kind written through TLS (before encryption).
    pub tls_bytes: u64,
    /// File regions (or their remainders) that fell back from `sendfile` to copying.
    pub sendfile_fallbacks: u64,
    /// Responses written completely.
    pub responses: u64,
    /// Times a write found the socket's send buffer full and waited for the peer to read.
    pub write_waits: u64,
}

macro_rules! getters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        $(
            $(#[$doc])*
            pub fn $name(&self) -> u64 {
                self.$name.load(Ordering::Relaxed)
            }
        )*
    };
}

impl Counters {
    /// Fresh counters, all zero.
    pub fn new() -> Counters {
        Counters::default()
    }

    /// All the counters at once (each read separately: not an atomic snapshot across counters).
    pub fn snapshot(&self) -> CountersSnapshot {
        CountersSnapshot {
            sendfile_bytes: self.sendfile_bytes(),
            copy_bytes: self.copy_bytes(),
            memory_bytes: self.memory_bytes(),
            tls_bytes: self.tls_bytes(),
            sendfile_fallbacks: self.sendfile_fallbacks(),
            responses: self.responses(),
            write_waits: self.write_waits(),
        }
    }

    getters! {
        /// File bytes sent with `sendfile(2)`.
        sendfile_bytes,
        /// File bytes copied through user space on plaintext connections.
        copy_bytes,
        /// Memory bytes written on plaintext connections.
        memory_bytes,
        /// Bytes written through TLS.
        tls_bytes,
        /// Regions that fell back from `sendfile` to copying.
        sendfile_fallbacks,
        /// Responses written completely.
        responses,
        /// Writes that waited for the socket to become writable.
        write_waits,
    }

    pub(crate) fn add_sendfile(&self, n: u64) {
        self.sendfile_bytes.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn add_copy(&self, n: u64) {
        self.copy_bytes.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn add_memory(&self, n: u64) {
        self.memory_bytes.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn add_tls(&self, n: u64) {
        self.tls_bytes.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn add_fallback(&self) {
        self.sendfile_fallbacks.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn add_response(&self) {
        self.responses.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn add_write_wait(&self) {
        self.write_waits.fetch_add(1, Ordering::Relaxed);
    }
}
