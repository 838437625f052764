//! Black-box tests of the transfer crate over real loopback connections.
//!
//! Every scenario runs through the three paths (sendfile, copy, TLS) and must deliver byte-identical output;
//! the other modules cover the zero-copy proof, failures (truncation, disconnects, slow readers, the sendfile
//! fallback) and the response queue.

mod failures;
mod queue;
mod scenarios;
mod support;
mod zero_copy;
