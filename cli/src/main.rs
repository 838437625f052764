//! The `kzero` command: topics, produce, consume, dump-log and bench, over the Kafka protocol only.
//!
//! It must never depend on `server`, `storage` or `replication`: it talks to brokers over the wire,
//! so it works against any Kafka-compatible broker.
//!
//! Not built yet: this binary says so and exits with an error.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("kzero: the command-line tool is not built yet")
}
