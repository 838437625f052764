//! The dispatch table is the one source of what is handled and what is advertised.

use bytes::Bytes;
use protocol::{ApiKey, Request, RequestBody, RequestHeader, ResponseBody, API_TABLE};

use super::*;

/// The smallest request body of `api` at its lowest version: zeros (empty strings and arrays, zero
/// numbers), after a few 1 bytes where the version is flexible (a compact array's empty length is 1),
/// which the handlers read the same whatever the header's version.
fn minimal_body(api: ApiKey) -> RequestBody {
    let lowest = api.info().implemented.0;
    (0..64)
        .flat_map(|n| (0..=n).map(move |ones| (n, ones)))
        .find_map(|(n, ones)| {
            let mut bytes = vec![1u8; ones];
            bytes.resize(n, 0);
            protocol::decode_request_body(api, lowest, Bytes::from(bytes)).ok()
        })
        .unwrap_or_else(|| panic!("no minimal {} v{lowest} body decodes", api.name()))
}

fn request(api: ApiKey, version: i16) -> Request {
    Request {
        header: RequestHeader {
            api_key: api,
            api_version: version,
            correlation_id: 7,
            client_id: Some("test".into()),
            unknown_tagged_fields: Default::default(),
        },
        // An API without a handler is refused by its header alone; any body will do.
        body: if handler(api).is_some() {
            minimal_body(api)
        } else {
            RequestBody::ApiVersions(Default::default())
        },
    }
}

#[test]
fn each_api_is_in_the_table_once() {
    let mut keys: Vec<i16> = APIS.iter().map(|a| a.key as i16).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), APIS.len());
    assert_eq!(HANDLED_APIS, APIS.iter().map(|a| a.key).collect::<Vec<_>>().as_slice());
}

/// Every API the codec knows: handled (dispatched, answered at every advertised version) exactly when
/// ApiVersions advertises it; otherwise the connection is closed without an answer.
#[tokio::test]
async fn advertised_exactly_when_handled() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::Config {
        data_dir: dir.path().to_path_buf(),
        auto_create_topics: false,
        ..crate::Config::default()
    };
    let cluster = crate::cluster::Cluster::start(&config).await.unwrap();
    let cluster_id = crate::broker::cluster_id(&config).unwrap();
    let broker = Broker::open(
        config,
        cluster_id,
        "127.0.0.1:9092".parse().unwrap(),
        Vec::new(),
        true,
        cluster,
    )
    .unwrap();
    let listener = Listener::new("127.0.0.1", 9092, crate::broker::SecurityProtocol::Plaintext);
    let reply = dispatch(&broker, &request(ApiKey::ApiVersions, 2), &listener).await;
    let Some(ResponseBody::ApiVersions(versions)) = reply.body else {
        panic!("no ApiVersions answer")
    };
    for info in API_TABLE {
        let advertised = versions.api_keys.iter().find(|k| k.api_key == info.key as i16);
        let handled = handler(info.key).is_some();
        assert_eq!(
            advertised.is_some(),
            handled,
            "{}: advertised iff handled",
            info.key.name()
        );
        // Every advertised version the codec implements (Produce v0-2 are advertised for old librdkafka but
        // refused, as Kafka does); versions beyond the advertised range are refused by dispatch.
        let (lo, hi) = (info.advertised.0.max(info.implemented.0), info.advertised.1);
        if let Some(a) = advertised {
            assert_eq!((a.min_version, a.max_version), info.advertised, "{}", info.key.name());
            for version in lo..=hi {
                let reply = dispatch(&broker, &request(info.key, version), &listener).await;
                // Produce with acks=0 is the one request that is answered with silence.
                let silent_ok = info.key == ApiKey::Produce;
                assert!(
                    reply.body.is_some() || silent_ok,
                    "{} v{version} was not answered",
                    info.key.name()
                );
                if let Some(body) = reply.body {
                    assert_eq!(body.api_key(), info.key);
                }
                assert!(!reply.refused, "{} v{version} was refused", info.key.name());
            }
            // A version the codec knows but the broker does not advertise is refused, not served.
            if info.implemented.1 > hi {
                let reply = dispatch(&broker, &request(info.key, hi + 1), &listener).await;
                assert!(
                    reply.refused && reply.close && reply.body.is_none(),
                    "{} v{} must be refused",
                    info.key.name(),
                    hi + 1
                );
            }
        } else {
            let reply = dispatch(&broker, &request(info.key, lo), &listener).await;
            assert!(
                reply.body.is_none() && reply.close,
                "{} must close the connection",
                info.key.name()
            );
        }
    }
}

/// ARCHITECTURE.md's API table states, per API, what the broker advertises and implements: it must say
/// what `API_TABLE` and the dispatch table say, row for row.
#[test]
fn the_architecture_table_agrees_with_the_api_table() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../ARCHITECTURE.md")).unwrap();
    let mut rows = Vec::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | Name (key) | advertised = implemented | Kafka 4.1 | notes |
        if cells.len() < 4 || !cells[1].ends_with(')') {
            continue;
        }
        let Some((name, key)) = cells[1].trim_end_matches(')').split_once(" (") else {
            continue;
        };
        let Ok(key) = key.parse::<i16>() else { continue };
        let range = cells[2].split_whitespace().next().unwrap_or_default();
        let (lo, hi) = range.split_once('-').unwrap_or((range, range));
        rows.push((
            name.to_string(),
            key,
            lo.parse::<i16>().unwrap(),
            hi.parse::<i16>().unwrap(),
        ));
    }
    let expected: Vec<(String, i16, i16, i16)> = HANDLED_APIS
        .iter()
        .map(|api| {
            let (lo, hi) = api.info().advertised;
            (api.name().to_string(), *api as i16, lo, hi)
        })
        .collect();
    let mut sorted = expected.clone();
    sorted.sort_by_key(|r| r.1);
    assert_eq!(rows, sorted, "ARCHITECTURE.md's API table");
    // Every handled API implements what it advertises, except Produce's rejected v0-2.
    for info in API_TABLE.iter().filter(|i| handler(i.key).is_some()) {
        let lo = if info.key == ApiKey::Produce {
            3
        } else {
            info.advertised.0
        };
        assert_eq!((lo, info.advertised.1), info.implemented, "{}", info.key.name());
    }
}
