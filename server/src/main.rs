//! The `kzero-server` binary.
//!
//! The broker is not built yet: this binary says so and exits with an error
//! rather than pretending to serve.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("kzero-server: the broker is not built yet; the protocol crate is the first step")
}
