//! SaslHandshake and SaslAuthenticate outside SASL listeners, the ACL APIs (CreateAcls, DescribeAcls,
//! DeleteAcls) and the SCRAM credential APIs (DescribeUserScramCredentials, AlterUserScramCredentials).
//!
//! ACLs and credentials are cluster metadata: changes go to the active controller, which writes them to
//! the metadata log; descriptions are answered from this broker's image. As in Kafka, describing needs
//! DESCRIBE on the cluster and changing needs ALTER on the cluster; without an authorizer the ACL APIs
//! answer SECURITY_DISABLED (the credential APIs work either way).

use std::collections::BTreeMap;

use protocol::{
    AclCreationResult, AclDescription, AlterUserScramCredentialsResponse, AlterUserScramCredentialsResult,
    CreateAclsResponse, CredentialInfo, DeleteAclsFilterResult, DeleteAclsMatchingAcl, DeleteAclsResponse,
    DescribeAclsResource, DescribeAclsResponse, DescribeUserScramCredentialsResponse,
    DescribeUserScramCredentialsResult, ErrorCode, Request,
};
use security::acl::Operation;

use super::{body, Pending};
use crate::broker::{Broker, Listener, Reply};
use crate::cluster::rpc;

const NO_AUTHORIZER: &str = "No Authorizer is configured.";

/// SaslHandshake and SaslAuthenticate on a listener without SASL (a SASL listener's connections answer
/// them before dispatch): ILLEGAL_SASL_STATE, as Kafka's request handler answers them.
pub(super) fn sasl_elsewhere(_broker: &Broker, request: &Request, _listener: &Listener) -> Reply {
    Reply::body(crate::sasl::not_sasl_listener(request))
}

/// DescribeAcls: the ACLs matching the filter, from this broker's image.
pub(super) fn describe_acls(broker: &Broker, request: &Request, listener: &Listener) -> Reply {
    let r = body!(request, DescribeAcls);
    let mut response = DescribeAclsResponse::default();
    let Some(authz) = &broker.authorization else {
        response.error_code = ErrorCode::SecurityDisabled.code();
        response.error_message = Some(NO_AUTHORIZER.into());
        return Reply::body(response);
    };
    if !broker.authorize_cluster(listener, Operation::Describe) {
        response.error_code = ErrorCode::ClusterAuthorizationFailed.code();
        return Reply::body(response);
    }
    let filter = rpc::AclFilter {
        resource_type: r.resource_type_filter,
        resource_name: r.resource_name_filter.clone(),
        pattern_type: r.pattern_type_filter,
        principal: r.principal_filter.clone(),
        host: r.host_filter.clone(),
        operation: r.operation,
        permission_type: r.permission_type,
    }
    .to_filter();
    if filter.is_unknown() {
        response.error_code = ErrorCode::InvalidRequest.code();
        response.error_message = Some("The filter contains an unknown element.".into());
        return Reply::body(response);
    }
    let acls = authz.current();
    response.resources = security::acl::group_by_pattern(acls.authorizer.describe(&filter))
        .into_iter()
        .map(|(pattern, entries)| DescribeAclsResource {
            resource_type: pattern.resource_type.code(),
            resource_name: pattern.name.clone(),
            pattern_type: pattern.pattern_type.code(),
            acls: entries
                .into_iter()
                .map(|e| AclDescription {
                    principal: e.principal,
                    host: e.host,
                    operation: e.operation.code(),
                    permission_type: e.permission.code(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    Reply::body(response)
}

/// Why an ACL change is refused before the controller is asked: no authorizer (SECURITY_DISABLED), or no
/// ALTER on the cluster.
fn acl_change_refusal(broker: &Broker, listener: &Listener) -> Option<(ErrorCode, Option<String>)> {
    if broker.authorization.is_none() {
        return Some((ErrorCode::SecurityDisabled, Some(NO_AUTHORIZER.into())));
    }
    (!broker.authorize_cluster(listener, Operation::Alter)).then_some((ErrorCode::ClusterAuthorizationFailed, None))
}

/// CreateAcls: through the active controller, one result per ACL.
pub(super) fn create_acls<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, CreateAcls);
        let failed = |code: ErrorCode, message: Option<String>| {
            Reply::body(CreateAclsResponse {
                results: r
                    .creations
                    .iter()
                    .map(|_| AclCreationResult {
                        error_code: code.code(),
                        error_message: message.clone(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        };
        if let Some((code, message)) = acl_change_refusal(broker, listener) {
            return failed(code, message);
        }
        let acls = r
            .creations
            .iter()
            .map(|c| metadata::records::AclEntry {
                id: [0; 16],
                resource_type: c.resource_type,
                resource_name: c.resource_name.clone(),
                pattern_type: c.resource_pattern_type,
                principal: c.principal.clone(),
                host: c.host.clone(),
                operation: c.operation,
                permission_type: c.permission_type,
            })
            .collect();
        let results = match broker.controller_request(rpc::Request::CreateAcls { acls }).await {
            Ok(rpc::Response::Results { results, .. }) if results.len() == r.creations.len() => results,
            Ok(other) => {
                let (code, message) = crate::broker::unexpected(&other);
                return failed(code, Some(message));
            }
            Err((code, message)) => return failed(code, Some(message)),
        };
        Reply::body(CreateAclsResponse {
            results: results
                .into_iter()
                .map(|result| match result {
                    Ok(_) => AclCreationResult::default(),
                    Err((code, message)) => AclCreationResult {
                        error_code: code,
                        error_message: Some(message),
                        ..Default::default()
                    },
                })
                .collect(),
            ..Default::default()
        })
    })
}

/// DeleteAcls: through the active controller, the ACLs each filter matched.
pub(super) fn delete_acls<'a>(broker: &'a Broker, request: &'a Request, listener: &'a Listener) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, DeleteAcls);
        let failed = |code: ErrorCode, message: Option<String>| {
            Reply::body(DeleteAclsResponse {
                filter_results: r
                    .filters
                    .iter()
                    .map(|_| DeleteAclsFilterResult {
                        error_code: code.code(),
                        error_message: message.clone(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        };
        if let Some((code, message)) = acl_change_refusal(broker, listener) {
            return failed(code, message);
        }
        let filters = r
            .filters
            .iter()
            .map(|f| rpc::AclFilter {
                resource_type: f.resource_type_filter,
                resource_name: f.resource_name_filter.clone(),
                pattern_type: f.pattern_type_filter,
                principal: f.principal_filter.clone(),
                host: f.host_filter.clone(),
                operation: f.operation,
                permission_type: f.permission_type,
            })
            .collect();
        let results = match broker.controller_request(rpc::Request::DeleteAcls { filters }).await {
            Ok(rpc::Response::AclsDeleted { results, .. }) if results.len() == r.filters.len() => results,
            Ok(other) => {
                let (code, message) = crate::broker::unexpected(&other);
                return failed(code, Some(message));
            }
            Err((code, message)) => return failed(code, Some(message)),
        };
        Reply::body(DeleteAclsResponse {
            filter_results: results
                .into_iter()
                .map(|result| match result {
                    Ok(matched) => DeleteAclsFilterResult {
                        matching_acls: matched
                            .into_iter()
                            .map(|a| DeleteAclsMatchingAcl {
                                resource_type: a.resource_type,
                                resource_name: a.resource_name,
                                pattern_type: a.pattern_type,
                                principal: a.principal,
                                host: a.host,
                                operation: a.operation,
                                permission_type: a.permission_type,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    },
                    Err((code, message)) => DeleteAclsFilterResult {
                        error_code: code,
                        error_message: Some(message),
                        ..Default::default()
                    },
                })
                .collect(),
            ..Default::default()
        })
    })
}

/// DescribeUserScramCredentials: the mechanisms and iterations of the named users (all users when none
/// is named), from this broker's image; never the salts or keys.
pub(super) fn describe_user_scram_credentials(broker: &Broker, request: &Request, listener: &Listener) -> Reply {
    let r = body!(request, DescribeUserScramCredentials);
    let mut response = DescribeUserScramCredentialsResponse::default();
    if !broker.authorize_cluster(listener, Operation::Describe) {
        response.error_code = ErrorCode::ClusterAuthorizationFailed.code();
        return Reply::body(response);
    }
    let image = broker.cluster.image();
    let mut by_user: BTreeMap<&str, Vec<CredentialInfo>> = BTreeMap::new();
    for ((name, mechanism), c) in &image.scram_credentials {
        by_user.entry(name.as_str()).or_default().push(CredentialInfo {
            mechanism: *mechanism,
            iterations: c.iterations,
            ..Default::default()
        });
    }
    let named: Vec<&str> = r.users.iter().flatten().map(|u| u.name.as_str()).collect();
    if named.is_empty() {
        response.results = by_user
            .into_iter()
            .map(|(user, infos)| DescribeUserScramCredentialsResult {
                user: user.to_string(),
                credential_infos: infos,
                ..Default::default()
            })
            .collect();
        return Reply::body(response);
    }
    let twice = super::repeated(named.iter().copied());
    let mut seen = std::collections::HashSet::new();
    for user in named {
        if !seen.insert(user) {
            continue;
        }
        let mut result = DescribeUserScramCredentialsResult {
            user: user.to_string(),
            ..Default::default()
        };
        if twice.contains(user) {
            result.error_code = ErrorCode::DuplicateResource.code();
            result.error_message = Some(format!(
                "Cannot describe SCRAM credentials for the same user twice in a single request: {user}"
            ));
        } else if let Some(infos) = by_user.get(user) {
            result.credential_infos = infos.clone();
        } else {
            result.error_code = ErrorCode::ResourceNotFound.code();
            result.error_message = Some(format!(
                "Attempt to describe a user credential that does not exist: {user}"
            ));
        }
        response.results.push(result);
    }
    Reply::body(response)
}

/// AlterUserScramCredentials: deletions and upsertions (a salt and a salted password the client computed:
/// the broker derives the stored and server keys, never seeing the password), through the active
/// controller; one result per user, carrying the first error of its changes.
pub(super) fn alter_user_scram_credentials<'a>(
    broker: &'a Broker,
    request: &'a Request,
    listener: &'a Listener,
) -> Pending<'a> {
    Box::pin(async move {
        let r = body!(request, AlterUserScramCredentials);
        // Users in order of first appearance, with their first error.
        let mut users: Vec<(String, Option<(i16, String)>)> = Vec::new();
        let note =
            |users: &mut Vec<(String, Option<(i16, String)>)>, user: &str, error: Option<(i16, String)>| match users
                .iter_mut()
                .find(|(u, _)| u == user)
            {
                Some((_, e)) => {
                    if e.is_none() {
                        *e = error;
                    }
                }
                None => users.push((user.to_string(), error)),
            };
        let allowed = broker.authorize_cluster(listener, Operation::Alter);
        let names = r
            .deletions
            .iter()
            .map(|d| d.name.as_str())
            .chain(r.upsertions.iter().map(|u| u.name.as_str()));
        let twice = super::repeated(names);
        let mut changes = Vec::new();
        // (user, index of its change)
        let mut sent: Vec<String> = Vec::new();
        for d in &r.deletions {
            let error = if !allowed {
                Some((ErrorCode::ClusterAuthorizationFailed.code(), String::new()))
            } else if twice.contains(d.name.as_str()) {
                Some((
                    ErrorCode::DuplicateResource.code(),
                    "A user credential cannot be altered twice in the same request".into(),
                ))
            } else {
                security::scram::validate_deletion(&d.name, d.mechanism)
                    .err()
                    .map(|e| (e.error_code(), e.kafka_message().to_string()))
            };
            if error.is_none() {
                changes.push(rpc::ScramChange::Delete {
                    name: d.name.clone(),
                    mechanism: d.mechanism,
                });
                sent.push(d.name.clone());
            }
            note(&mut users, &d.name, error);
        }
        for u in &r.upsertions {
            let checked = if !allowed {
                Err((ErrorCode::ClusterAuthorizationFailed.code(), String::new()))
            } else if twice.contains(u.name.as_str()) {
                Err((
                    ErrorCode::DuplicateResource.code(),
                    "A user credential cannot be altered twice in the same request".into(),
                ))
            } else {
                security::scram::validate_upsertion(&u.name, u.mechanism, u.iterations)
                    .map_err(|e| (e.error_code(), e.kafka_message().to_string()))
            };
            match checked {
                Ok(mechanism) => {
                    let c = security::scram::Credential::from_salted_password(
                        mechanism,
                        &u.salt,
                        &u.salted_password,
                        u.iterations as u32,
                    );
                    changes.push(rpc::ScramChange::Upsert(metadata::records::ScramCredential {
                        name: u.name.clone(),
                        mechanism: u.mechanism,
                        salt: c.salt,
                        stored_key: c.stored_key,
                        server_key: c.server_key,
                        iterations: u.iterations,
                    }));
                    sent.push(u.name.clone());
                    note(&mut users, &u.name, None);
                }
                Err(e) => note(&mut users, &u.name, Some(e)),
            }
        }
        if !changes.is_empty() {
            let n = changes.len();
            let request = rpc::Request::AlterScram {
                changes,
                only_if_absent: false,
            };
            match broker.controller_request(request).await {
                Ok(rpc::Response::Results { results, .. }) if results.len() == n => {
                    for (user, result) in sent.iter().zip(results) {
                        if let Err(e) = result {
                            note(&mut users, user, Some(e));
                        }
                    }
                }
                Ok(other) => {
                    let e = crate::broker::unexpected(&other);
                    for user in &sent {
                        note(&mut users, user, Some((e.0.code(), e.1.clone())));
                    }
                }
                Err(e) => {
                    for user in &sent {
                        note(&mut users, user, Some((e.0.code(), e.1.clone())));
                    }
                }
            }
        }
        Reply::body(AlterUserScramCredentialsResponse {
            results: users
                .into_iter()
                .map(|(user, error)| {
                    let (error_code, error_message) = match error {
                        None => (0, None),
                        Some((code, m)) => (code, (!m.is_empty()).then_some(m)),
                    };
                    AlterUserScramCredentialsResult {
                        user,
                        error_code,
                        error_message,
                        ..Default::default()
                    }
                })
                .collect(),
            ..Default::default()
        })
    })
}
