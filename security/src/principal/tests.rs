//! Tests of the principal mapping: subjects of certificates made by rcgen, names built byte by byte for
//! what rcgen cannot make (multi-valued RDNs, repeated attributes, non-string values), and the rule
//! grammar.

use rcgen::{BmpString, CertificateParams, DistinguishedName, DnType, DnValue, Ia5String, KeyPair, PrintableString};
use x509_parser::prelude::FromDer as _;
use x509_parser::x509::X509Name;

use super::*;

/// A self-signed certificate whose subject has these attributes, in this DER order.
fn certificate(subject: &[(DnType, DnValue)]) -> Vec<u8> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut name = DistinguishedName::new();
    for (ty, value) in subject {
        name.push(ty.clone(), value.clone());
    }
    params.distinguished_name = name;
    let key = KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().der().to_vec()
}

fn utf8(s: &str) -> DnValue {
    DnValue::Utf8String(s.to_string())
}

#[test]
fn subject_is_printed_most_specific_first() {
    let der = certificate(&[
        (
            DnType::CountryName,
            DnValue::PrintableString(PrintableString::try_from("US").unwrap()),
        ),
        (DnType::StateOrProvinceName, utf8("CA")),
        (DnType::LocalityName, utf8("San Francisco")),
        (DnType::OrganizationName, utf8("Example")),
        (DnType::OrganizationalUnitName, utf8("eng")),
        (DnType::CommonName, utf8("client")),
    ]);
    assert_eq!(
        distinguished_name(&der).unwrap(),
        "CN=client,OU=eng,O=Example,L=San Francisco,ST=CA,C=US"
    );
}

#[test]
fn subject_values_are_escaped_as_java_does() {
    let check = |value: &str, expect: &str| {
        let der = certificate(&[(DnType::CommonName, utf8(value))]);
        assert_eq!(distinguished_name(&der).unwrap(), format!("CN={expect}"), "{value:?}");
    };
    check("plain name", "plain name");
    check("Sue, Grabbit and Runn", r"Sue\, Grabbit and Runn");
    check(r#"a+b=c<d>e;f"g\h"#, r#"a\+b\=c\<d\>e\;f\"g\\h"#);
    // Java escapes `#` anywhere, not only in front.
    check("#1 fan", r"\#1 fan");
    check("a#b", r"a\#b");
    // Every space of the leading and trailing runs, none inside.
    check("  two  ", r"\ \ two\ \ ");
    check(" ", r"\ ");
    check("\rx\r", "\\\rx\\\r");
    check("nul\0here", r"nul\00here");
    // Non-ASCII and control characters are written as they are.
    check("Zoë\tß", "Zoë\tß");
}

#[test]
fn other_attribute_types_are_dotted_oids_with_hex_values() {
    let email = DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]);
    let der = certificate(&[
        (DnType::OrganizationName, utf8("Example")),
        (email, DnValue::Ia5String(Ia5String::try_from("a@b.c").unwrap())),
        (DnType::CommonName, utf8("x")),
    ]);
    // IA5String (tag 0x16), 5 bytes.
    assert_eq!(
        distinguished_name(&der).unwrap(),
        "CN=x,1.2.840.113549.1.9.1=#16056140622e63,O=Example"
    );
}

#[test]
fn bmp_strings_are_read_as_utf16() {
    let der = certificate(&[(
        DnType::CommonName,
        DnValue::BmpString(BmpString::try_from("Ünïcode, ok").unwrap()),
    )]);
    assert_eq!(distinguished_name(&der).unwrap(), r"CN=Ünïcode\, ok");
}

#[test]
fn not_a_certificate() {
    for bytes in [&b""[..], b"hello", &[0x30, 0x03, 0x02, 0x01, 0x00]] {
        let err = distinguished_name(bytes).unwrap_err();
        assert!(matches!(err, PrincipalError::Certificate { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with("cannot read the client certificate: "),
            "{err}"
        );
    }
}

/// A DER TLV.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A dotted OID, DER-encoded.
fn oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').map(|a| a.parse().unwrap()).collect();
    let mut content = Vec::new();
    let mut encode = |mut arc: u64| {
        let mut bytes = vec![(arc & 0x7F) as u8];
        arc >>= 7;
        while arc > 0 {
            bytes.push(0x80 | (arc & 0x7F) as u8);
            arc >>= 7;
        }
        bytes.reverse();
        content.extend(bytes);
    };
    encode(arcs[0] * 40 + arcs[1]);
    for &arc in &arcs[2..] {
        encode(arc);
    }
    tlv(0x06, &content)
}

/// An attribute: type and value (a whole TLV).
fn atv(dotted: &str, value: Vec<u8>) -> Vec<u8> {
    tlv(0x30, &[oid(dotted), value].concat())
}

/// A Name of RDNs (each a list of attributes), in DER order, printed.
fn name(rdns: &[Vec<Vec<u8>>]) -> String {
    let sets: Vec<u8> = rdns.iter().flat_map(|rdn| tlv(0x31, &rdn.concat())).collect();
    let der = tlv(0x30, &sets);
    let (rest, name) = X509Name::from_der(&der).unwrap();
    assert!(rest.is_empty());
    rfc2253(&name)
}

const CN: &str = "2.5.4.3";
const OU: &str = "2.5.4.11";
const DC: &str = "0.9.2342.19200300.100.1.25";
const UID: &str = "0.9.2342.19200300.100.1.1";

#[test]
fn multi_valued_rdns_and_repeated_attributes() {
    let utf8 = |s: &str| tlv(0x0C, s.as_bytes());
    let ia5 = |s: &str| tlv(0x16, s.as_bytes());
    let printed = name(&[
        vec![atv(DC, ia5("com"))],
        vec![atv(DC, ia5("example"))],
        vec![atv(OU, utf8("eng")), atv(OU, utf8("ops"))],
        vec![atv(CN, utf8("svc")), atv(UID, utf8("u,1"))],
    ]);
    assert_eq!(printed, r"CN=svc+UID=u\,1,OU=eng+OU=ops,DC=example,DC=com");
    assert_eq!(
        name(&[vec![atv("2.5.4.9", utf8("1 Main St")), atv("2.5.4.8", utf8("CA"))]]),
        "STREET=1 Main St+ST=CA"
    );
    assert_eq!(name(&[]), "");
}

#[test]
fn values_of_other_types_are_hex_even_for_known_keywords() {
    // NumericString (tag 0x12) is not a string type Java reads; neither is an INTEGER.
    assert_eq!(name(&[vec![atv(CN, tlv(0x12, b"123"))]]), "CN=#1203313233");
    assert_eq!(name(&[vec![atv(CN, tlv(0x02, &[0x01, 0x00]))]]), "CN=#02020100");
    // T61String and GeneralString are read byte per character (ISO-8859-1).
    assert_eq!(name(&[vec![atv(CN, tlv(0x14, &[b'a', 0xE9]))]]), "CN=aé");
    assert_eq!(name(&[vec![atv(CN, tlv(0x1B, b"g"))]]), "CN=g");
    // A known keyword's value stays a string; an unknown type's string is still hex.
    assert_eq!(name(&[vec![atv("2.5.4.5", tlv(0x13, b"42"))]]), "2.5.4.5=#13023432");
}

fn rules(rules: &[&str]) -> Result<PrincipalMapper, PrincipalError> {
    PrincipalMapper::parse(&rules.iter().map(|r| r.to_string()).collect::<Vec<_>>())
}

fn map(rule_list: &[&str], dn: &str) -> Result<String, PrincipalError> {
    rules(rule_list).unwrap().name(dn)
}

#[test]
fn default_rule_keeps_the_name() {
    assert_eq!(map(&["DEFAULT"], "CN=a,O=b").unwrap(), "CN=a,O=b");
    assert_eq!(PrincipalMapper::default().name("CN=a").unwrap(), "CN=a");
    assert_eq!(map(&["  DEFAULT  "], "CN=a").unwrap(), "CN=a");
}

#[test]
fn first_matching_rule_wins() {
    let list = [
        r"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/",
        r"RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L",
        r"RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L",
        "DEFAULT",
    ];
    assert_eq!(
        map(&list, "CN=kafka-svc,OU=ServiceUsers,O=Org,C=US").unwrap(),
        "kafka-svc"
    );
    assert_eq!(
        map(&list, "CN=Duke,OU=JavaSoft,O=Sun Microsystems,L=Palo Alto,ST=CA,C=US").unwrap(),
        "duke@javasoft"
    );
    assert_eq!(map(&list, "OU=x,cn=Bob.Smith,O=y").unwrap(), "bob.smith");
    assert_eq!(map(&list, "O=only").unwrap(), "O=only");
}

#[test]
fn the_pattern_must_match_the_whole_name() {
    // `CN=(\w+)` occurs in the name but does not match all of it: the rule does not apply.
    let list = [r"RULE:CN=(\w+)/$1/U", "DEFAULT"];
    assert_eq!(map(&list, "CN=abc,O=x").unwrap(), "CN=abc,O=x");
    assert_eq!(map(&list, "CN=abc").unwrap(), "ABC");
}

#[test]
fn no_matching_rule_names_the_rules_as_kafka_does() {
    let err = map(&[r"RULE:^CN=(.*)$/$1/L", r"RULE:^O=(.*)$/$1/", ""], "OU=x").unwrap_err();
    assert_eq!(
        err,
        PrincipalError::NoMatchingRule {
            name: "OU=x".into(),
            rules: r"[RULE:^CN=(.*)$/$1/L, RULE:^O=(.*)$/$1]".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        r"no rules apply to OU=x, rules [RULE:^CN=(.*)$/$1/L, RULE:^O=(.*)$/$1]"
    );
    // Blank rules are skipped; no rules at all map nothing.
    assert!(map(&["", "  "], "CN=a").is_err());
    assert!(map(&[], "CN=a").is_err());
}

#[test]
fn case_flags() {
    assert_eq!(map(&[r"RULE:^CN=(.*)$/$1/L"], "CN=MiXeD Ünï").unwrap(), "mixed ünï");
    assert_eq!(map(&[r"RULE:^CN=(.*)$/$1/U"], "CN=MiXeD ß").unwrap(), "MIXED SS");
    assert_eq!(map(&[r"RULE:^CN=(.*)$/$1/"], "CN=MiXeD").unwrap(), "MiXeD");
}

#[test]
fn escapes_in_pattern_and_replacement() {
    // `\/` inside the parts is a slash, not the end of the part; `\,` matches an escaped comma.
    assert_eq!(map(&[r"RULE:^CN=(.*)\/(.*)$/$2\/$1/"], "CN=a/b").unwrap(), "b/a");
    assert_eq!(
        map(&[r"RULE:^CN=([^,\\]*)\\,.*$/$1/"], r"CN=Sue\, Grabbit").unwrap(),
        "Sue"
    );
    // `\$` in a replacement is a dollar sign.
    assert_eq!(map(&[r"RULE:^CN=(.*)$/\$$1/"], "CN=x").unwrap(), "$x");
    assert_eq!(map(&[r"RULE:^CN=(?<user>.*)$/u-${user}/"], "CN=x").unwrap(), "u-x");
}

#[test]
fn group_numbers_as_java_and_kafka_read_them() {
    // One group: `$12` is group 1 then "2"; `$2` names no group and stays text (Kafka's
    // escapeLiteralBackReferences); `$0` is the whole match.
    let one = r"^CN=(\w+)$";
    let check = |replacement: &str, expect: &str| {
        let rule = format!("RULE:{one}/{replacement}/");
        assert_eq!(map(&[&rule], "CN=abc").unwrap(), expect, "{replacement}");
    };
    check("$12", "abc2");
    check("$2", "$2");
    check("$2x$1", "$2xabc");
    check("<$0>", "<CN=abc>");
    // Eleven groups: `$11` is group 11, `$111` is group 11 then "1".
    let eleven = format!("RULE:^{}$/$11.$111/", "(.)".repeat(11));
    assert_eq!(map(&[&eleven], "abcdefghijk").unwrap(), "k.k1");
}

#[test]
fn replace_all_replaces_every_match_like_java() {
    // The whole-name check passes, then every match is replaced, an empty one at the end included.
    assert_eq!(map(&["RULE:.*/X/"], "abc").unwrap(), "XX");
    assert_eq!(map(&["RULE:a*/-/"], "aaa").unwrap(), "--");
    assert_eq!(map(&["RULE:x*/-/"], "").unwrap(), "-");
}

#[test]
fn bad_rules_are_refused() {
    let unmatched = |rule: &str, rest: &str| {
        let err = rules(&[rule]).unwrap_err();
        assert_eq!(
            err,
            PrincipalError::InvalidRule {
                rule: rule.trim().into(),
                unmatched: rest.into()
            },
            "{rule}"
        );
    };
    unmatched("DEFAULTS", "S");
    unmatched("default", "default");
    unmatched("RULE:abc", "RULE:abc");
    unmatched("RULE:abc/def", "RULE:abc/def");
    unmatched(r"RULE:abc\/def/x", r"RULE:abc\/def/x");
    unmatched("RULE:a/b/X", "X");
    unmatched("RULE:a/b/LU", "U");
    unmatched("RULE:a/b/ L", " L");
    unmatched("RULE a/b/", "RULE a/b/");
    unmatched("RULE:a\\\n/b/", "RULE:a\\\n/b/");
    // A `\` before the closing slash escapes it: the replacement is never closed.
    unmatched(r"RULE:^(.*)$/a\/", r"RULE:^(.*)$/a\/");
    assert_eq!(
        rules(&["RULE:a/b/X"]).unwrap_err().to_string(),
        "invalid rule `RULE:a/b/X`, unmatched substring: `X`"
    );

    let bad_pattern = rules(&["RULE:(unclosed/x/"]).unwrap_err();
    assert!(
        matches!(bad_pattern, PrincipalError::InvalidPattern { .. }),
        "{bad_pattern:?}"
    );
    // Look-around is not supported.
    assert!(matches!(
        rules(&["RULE:(?=x)x/y/"]).unwrap_err(),
        PrincipalError::InvalidPattern { .. }
    ));

    for replacement in ["$", "$x", "${", "${1a}", "${nope}", "${a"] {
        let rule = format!("RULE:^(?<a>.*)$/{replacement}/");
        let err = rules(&[&rule]).unwrap_err();
        assert!(
            matches!(err, PrincipalError::InvalidReplacement { .. }),
            "{replacement}: {err:?}"
        );
    }
    // A group number with no groups at all; `$0` is always there.
    assert!(matches!(
        rules(&["RULE:^CN=x$/$1/"]).unwrap_err(),
        PrincipalError::InvalidReplacement { .. }
    ));
    assert_eq!(map(&["RULE:^CN=x$/[$0]/"], "CN=x").unwrap(), "[CN=x]");
    // One bad rule refuses the whole list.
    assert!(rules(&["DEFAULT", "RULE:a/b/Q"]).is_err());
}

#[test]
fn certificate_then_rules() {
    let der = certificate(&[
        (DnType::OrganizationName, utf8("Example")),
        (DnType::OrganizationalUnitName, utf8("eng")),
        (DnType::CommonName, utf8("Alice")),
    ]);
    let dn = distinguished_name(&der).unwrap();
    assert_eq!(dn, "CN=Alice,OU=eng,O=Example");
    assert_eq!(
        map(&[r"RULE:^CN=([^,]+),OU=eng,.*$/$1/L", "DEFAULT"], &dn).unwrap(),
        "alice"
    );
}
