//! `kzero users create|list|delete`: users' SCRAM credentials, through AlterUserScramCredentials and
//! DescribeUserScramCredentials ([KIP-554]), like `kafka-configs.sh --entity-type users
//! --add-config 'SCRAM-SHA-256=[password=...]'`.
//!
//! `create` makes a random 32-byte salt per mechanism and sends the salt with the SaltedPassword
//! (`Hi(password, salt, iterations)`, computed here), never the password itself. Each mechanism's change
//! goes in a request of its own: Kafka refuses a request that names a user twice. The iteration count is
//! checked here against Kafka's bounds before the slow part. `list` prints `USER MECHANISM ITERATIONS`;
//! `delete` removes the mechanisms named, or every mechanism the user has.
//!
//! A broker's refusal for one user is one `error:` line on stderr, and the command exits non-zero.
//!
//! [KIP-554]: https://cwiki.apache.org/confluence/display/KAFKA/KIP-554%3A+Add+Broker-side+SCRAM+Config+API

use std::io::{self, Write};
use std::num::NonZeroU32;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Result};
use bytes::Bytes;
use clap::{Args, Subcommand};
use protocol::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResult, DescribeUserScramCredentialsRequest,
    DescribeUserScramCredentialsResponse, ResponseBody, ScramCredentialDeletion, ScramCredentialUpsertion,
    ScramUserName,
};
use security::scram::{salted_password, validate_upsertion, Mechanism, MIN_ITERATIONS};

use crate::client::{error_text, Client};
use crate::sasl::random_bytes;
use crate::table::print_table;
use crate::{report, ConnectArgs};

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user, or replace its credentials: a SCRAM credential per mechanism.
    Create(CreateArgs),
    /// List users with their SCRAM mechanisms and iteration counts.
    List(ListArgs),
    /// Delete a user's SCRAM credentials.
    Delete(DeleteArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The user name.
    name: String,
    /// The password.
    #[arg(long, value_name = "PASS")]
    password: String,
    /// SCRAM-SHA-256 or SCRAM-SHA-512; repeatable (default: both).
    #[arg(long = "mechanism", value_name = "MECHANISM", value_parser = parse_mechanism)]
    mechanisms: Vec<Mechanism>,
    /// The PBKDF2 iteration count (4096 to 16384).
    #[arg(long, value_name = "N", default_value_t = MIN_ITERATIONS)]
    iterations: u32,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The users to list (default: every user).
    names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The user name.
    name: String,
    /// SCRAM-SHA-256 or SCRAM-SHA-512; repeatable (default: every mechanism the user has).
    #[arg(long = "mechanism", value_name = "MECHANISM", value_parser = parse_mechanism)]
    mechanisms: Vec<Mechanism>,
}

/// A SCRAM mechanism by name, ignoring case.
fn parse_mechanism(s: &str) -> Result<Mechanism, String> {
    Mechanism::from_name(&s.to_ascii_uppercase())
        .ok_or_else(|| format!("unknown SCRAM mechanism {s:?}: expected SCRAM-SHA-256 or SCRAM-SHA-512"))
}

pub fn run(command: UsersCommand) -> Result<ExitCode> {
    match command {
        UsersCommand::Create(a) => create(a),
        UsersCommand::List(a) => list(a),
        UsersCommand::Delete(a) => delete(a),
    }
}

/// The mechanisms asked for, each once, in order; both when none was named.
fn chosen(mechanisms: &[Mechanism]) -> Vec<Mechanism> {
    if mechanisms.is_empty() {
        return Mechanism::ALL.to_vec();
    }
    let mut out = Vec::new();
    for m in mechanisms {
        if !out.contains(m) {
            out.push(*m);
        }
    }
    out
}

/// `SCRAM-SHA-256, SCRAM-SHA-512`.
fn names(mechanisms: &[Mechanism]) -> String {
    mechanisms.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
}

/// One upsertion per mechanism, each with its own salt from `salt`, after Kafka's checks of the user
/// name and the iteration count.
fn upsertions(
    name: &str,
    password: &str,
    mechanisms: &[Mechanism],
    iterations: u32,
    mut salt: impl FnMut() -> Result<[u8; 32]>,
) -> Result<Vec<ScramCredentialUpsertion>> {
    let mut out = Vec::with_capacity(mechanisms.len());
    for &mechanism in mechanisms {
        let wire_iterations = i32::try_from(iterations).unwrap_or(i32::MAX);
        validate_upsertion(name, mechanism.type_id(), wire_iterations)
            .map_err(|e| anyhow!("cannot create user {name:?}: {e}"))?;
        let count = NonZeroU32::new(iterations).ok_or_else(|| anyhow!("--iterations must not be 0"))?;
        let salt = salt()?;
        let salted = salted_password(mechanism, password.as_bytes(), &salt, count);
        out.push(ScramCredentialUpsertion {
            name: name.to_string(),
            mechanism: mechanism.type_id(),
            iterations: wire_iterations,
            salt: Bytes::copy_from_slice(&salt),
            salted_password: Bytes::from(salted),
            ..Default::default()
        });
    }
    Ok(out)
}

/// Sends one AlterUserScramCredentials request per change, `(what, request)`, because Kafka refuses a
/// request that names a user twice (DUPLICATE_RESOURCE, "A user credential cannot be altered twice in the
/// same request"). Stops at the first refused change (the next one would most likely be refused for the
/// same reason, such as a missing authorization) and returns its problems.
fn alter(client: &mut Client, changes: Vec<(String, AlterUserScramCredentialsRequest)>) -> Result<Vec<String>> {
    for (action, request) in changes {
        let ResponseBody::AlterUserScramCredentials(r) = client.bootstrap().call(request)? else {
            bail!("unexpected response to AlterUserScramCredentials");
        };
        let problems = failures(&r.results, &action);
        if !problems.is_empty() {
            return Ok(problems);
        }
    }
    Ok(Vec::new())
}

/// `cannot <action> user "<name>": <why>` for each refused user.
fn failures(results: &[AlterUserScramCredentialsResult], action: &str) -> Vec<String> {
    results
        .iter()
        .filter(|r| r.error_code != 0)
        .map(|r| {
            let why = error_text(r.error_code, r.error_message.as_deref());
            format!("cannot {action} user {:?}: {why}", r.user)
        })
        .collect()
}

fn create(a: CreateArgs) -> Result<ExitCode> {
    let mechanisms = chosen(&a.mechanisms);
    let upsertions = upsertions(&a.name, &a.password, &mechanisms, a.iterations, random_bytes::<32>)?;
    let mut client = Client::connect(&a.connect.settings()?)?;
    let changes = upsertions
        .into_iter()
        .zip(&mechanisms)
        .map(|(upsertion, mechanism)| {
            let request = AlterUserScramCredentialsRequest {
                upsertions: vec![upsertion],
                ..Default::default()
            };
            (format!("create the {mechanism} credential of"), request)
        })
        .collect();
    let problems = alter(&mut client, changes)?;
    if problems.is_empty() {
        writeln!(
            io::stdout(),
            "Created SCRAM credentials for user {} ({}).",
            a.name,
            names(&mechanisms)
        )?;
    }
    Ok(report(&problems)?)
}

/// DescribeUserScramCredentials for these users (every user when empty).
fn describe(client: &mut Client, users: &[String]) -> Result<DescribeUserScramCredentialsResponse> {
    let request = DescribeUserScramCredentialsRequest {
        users: (!users.is_empty()).then(|| {
            users
                .iter()
                .map(|name| ScramUserName {
                    name: name.clone(),
                    ..Default::default()
                })
                .collect()
        }),
        ..Default::default()
    };
    let ResponseBody::DescribeUserScramCredentials(r) = client.bootstrap().call(request)? else {
        bail!("unexpected response to DescribeUserScramCredentials");
    };
    if r.error_code != 0 {
        bail!(
            "cannot describe SCRAM credentials: {}",
            error_text(r.error_code, r.error_message.as_deref())
        );
    }
    Ok(r)
}

/// A mechanism type id by name; `UNKNOWN(n)` for ids this tool does not know.
fn mechanism_name(type_id: i8) -> String {
    Mechanism::from_type_id(type_id).map_or_else(|| format!("UNKNOWN({type_id})"), |m| m.name().to_string())
}

/// The rows of `list`, sorted by user then mechanism, and one line per user the broker refused.
fn list_rows(r: &DescribeUserScramCredentialsResponse) -> (Vec<Vec<String>>, Vec<String>) {
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for user in &r.results {
        if user.error_code != 0 {
            problems.push(format!(
                "cannot describe user {:?}: {}",
                user.user,
                error_text(user.error_code, user.error_message.as_deref())
            ));
            continue;
        }
        let mut infos: Vec<_> = user.credential_infos.iter().collect();
        infos.sort_by_key(|c| c.mechanism);
        for info in infos {
            rows.push(vec![
                user.user.clone(),
                mechanism_name(info.mechanism),
                info.iterations.to_string(),
            ]);
        }
    }
    rows.sort_by(|a, b| a[0].cmp(&b[0]));
    (rows, problems)
}

fn list(a: ListArgs) -> Result<ExitCode> {
    let mut client = Client::connect(&a.connect.settings()?)?;
    let response = describe(&mut client, &a.names)?;
    let (rows, problems) = list_rows(&response);
    print_table(&mut io::stdout().lock(), &["USER", "MECHANISM", "ITERATIONS"], &rows)?;
    Ok(report(&problems)?)
}

fn delete(a: DeleteArgs) -> Result<ExitCode> {
    let mut client = Client::connect(&a.connect.settings()?)?;
    let type_ids: Vec<i8> = if a.mechanisms.is_empty() {
        let response = describe(&mut client, std::slice::from_ref(&a.name))?;
        let (_, problems) = list_rows(&response);
        if let Some(p) = problems.first() {
            bail!("{p}");
        }
        let ids: Vec<i8> = response
            .results
            .iter()
            .filter(|u| u.user == a.name)
            .flat_map(|u| u.credential_infos.iter().map(|c| c.mechanism))
            .collect();
        if ids.is_empty() {
            bail!("user {:?} has no SCRAM credentials", a.name);
        }
        ids
    } else {
        chosen(&a.mechanisms).iter().map(|m| m.type_id()).collect()
    };
    let changes = type_ids
        .iter()
        .map(|&mechanism| {
            let request = AlterUserScramCredentialsRequest {
                deletions: vec![ScramCredentialDeletion {
                    name: a.name.clone(),
                    mechanism,
                    ..Default::default()
                }],
                ..Default::default()
            };
            (
                format!("delete the {} credential of", mechanism_name(mechanism)),
                request,
            )
        })
        .collect();
    let problems = alter(&mut client, changes)?;
    if problems.is_empty() {
        let shown: Vec<String> = type_ids.iter().map(|&id| mechanism_name(id)).collect();
        writeln!(
            io::stdout(),
            "Deleted SCRAM credentials of user {} ({}).",
            a.name,
            shown.join(", ")
        )?;
    }
    Ok(report(&problems)?)
}

#[cfg(test)]
mod tests;
