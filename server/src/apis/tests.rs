//! The dispatch table is the one source of what is handled and what is advertised.

use bytes::Bytes;
use protocol::{ApiKey, Request, RequestBody, RequestHeader, ResponseBody, API_TABLE};

use super::*;

/// The smallest request body of `api`: all zeros at its lowest version (empty strings and arrays, zero
/// numbers), which the handlers read the same whatever the header's version.
fn minimal_body(api: ApiKey) -> RequestBody {
    let lowest = api.info().implemented.0;
    (0..512)
        .find_map(|n| protocol::decode_request_body(api, lowest, Bytes::from(vec![0u8; n])).ok())
        .unwrap_or_else(|| panic!("no all-zero {} v{lowest} body decodes", api.name()))
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
    let broker = Broker::open(config, "127.0.0.1:9092".parse().unwrap(), true).unwrap();
    let listener = Listener {
        host: "127.0.0.1".into(),
        port: 9092,
        peer: None,
    };
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
