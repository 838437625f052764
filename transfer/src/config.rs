//! [`Config`]: how a transport sends file regions and coalesces the pieces of a response.

/// How a plaintext transport sends file regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `sendfile(2)` from the page cache straight to the socket; file bytes never enter the process.
    /// A region whose file does not support it (`EINVAL`, `ENOSYS`) is copied instead, and counted in
    /// [`Counters::sendfile_fallbacks`](crate::Counters::sendfile_fallbacks).
    #[default]
    Sendfile,
    /// `pread` into a reused buffer and `write` from it: the baseline that zero-copy is measured against, and an
    /// escape hatch where `sendfile` misbehaves.
    Copy,
}

/// How a plaintext transport in [`Mode::Sendfile`] keeps the pieces of one response from going out as many
/// small packets. (Copy mode and TLS gather the pieces in their buffer instead and need neither.)
///
/// The default, [`Coalesce::Cork`], was chosen by measurement; see the crate documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Coalesce {
    /// Nothing: with `TCP_NODELAY` each piece may leave as its own packet.
    Off,
    /// `send(..., MSG_MORE)` for byte pieces that are followed by more of the response. `sendfile` takes no
    /// flags, so the tail of each file region still leaves as a packet of its own.
    MsgMore,
    /// `TCP_CORK` around responses of more than one piece, released when the caller flushes (so queued
    /// responses share packets too). Two extra `setsockopt` calls per flush.
    #[default]
    Cork,
}

/// Configuration of a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How plaintext connections send file regions.
    pub mode: Mode,
    /// How plaintext connections in sendfile mode coalesce the pieces of a response.
    pub coalesce: Coalesce,
    /// The size of the reused buffer that copy mode (and the sendfile fallback) reads file regions into.
    pub copy_buffer_size: usize,
    /// The size of the reused buffer that TLS connections read file regions into and encrypt from.
    pub tls_buffer_size: usize,
    /// Whether to set `TCP_NODELAY` on the connection (default `true`: the transport coalesces a response's
    /// pieces itself, and Nagle's algorithm would hold the last packet of a response back).
    pub nodelay: bool,
}

/// The default `copy_buffer_size` (see the crate documentation for the measurement).
pub const DEFAULT_COPY_BUFFER_SIZE: usize = 128 * 1024;
/// The default `tls_buffer_size` (see the crate documentation for the measurement).
pub const DEFAULT_TLS_BUFFER_SIZE: usize = 128 * 1024;

impl Default for Config {
    fn default() -> Config {
        Config {
            mode: Mode::default(),
            coalesce: Coalesce::default(),
            copy_buffer_size: DEFAULT_COPY_BUFFER_SIZE,
            tls_buffer_size: DEFAULT_TLS_BUFFER_SIZE,
            nodelay: true,
        }
    }
}
