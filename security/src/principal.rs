//! Who a client certificate names: the subject's distinguished name as Java prints it, and Kafka's
//! `ssl.principal.mapping.rules` that turn that name into the user of the principal `User:<name>`.
//!
//! - [`distinguished_name`] reads a DER certificate and prints its subject the way Java's
//!   `X500Principal.getName()` does (RFC 2253 with Java's own choices), because that string is what
//!   Kafka's mapping rules are written against: `CN=client,OU=eng,O=Example,C=US`.
//! - [`PrincipalMapper`] is Kafka's `SslPrincipalMapper`: an ordered list of rules, each `DEFAULT` (the
//!   name unchanged) or `RULE:<pattern>/<replacement>/[L|U]`; the first rule whose pattern matches the
//!   whole name gives the principal's name.
//!
//! # The subject as Java prints it
//!
//! - The relative distinguished names (RDNs) come in the **reverse** of their DER order, the most
//!   specific first, joined by `,` without spaces; the attributes of a multi-valued RDN are joined by
//!   `+` in their DER order.
//! - An attribute is `<keyword>=<value>`. The keywords are `CN`, `C`, `L`, `ST`, `O`, `OU`, `STREET`,
//!   `DC` and `UID`; any other attribute type is written as its dotted OID, and its value as `#`
//!   followed by the lowercase hexadecimal of the value's whole DER encoding (tag, length, content).
//!   So is a value of a known attribute that is not one of the string types Java reads
//!   (UTF8String, PrintableString, T61String, IA5String, GeneralString, BMPString).
//! - A string value is escaped as Java does it, which is more than RFC 2253 asks: each of
//!   `, = + < > # ; " \` anywhere in the value gets a `\` before it, a NUL becomes `\00`, and every
//!   space or carriage return in the leading and in the trailing run of them gets a `\` before it.
//!   Other characters, printable or not, are written as they are.
//!
//! # Rules
//!
//! ```text
//! DEFAULT                               the distinguished name, unchanged
//! RULE:<pattern>/<replacement>/         pattern must match the whole name; replacement uses $1, ${name}
//! RULE:<pattern>/<replacement>/L        ... then lower-cased
//! RULE:<pattern>/<replacement>/U        ... then upper-cased
//! ```
//!
//! Inside the pattern and the replacement, `\` escapes the next character (so `\/` is a `/` that does
//! not end the part); the escape is kept, for the regular expression or the replacement to read.
//! A rule whose pattern matches the whole name replaces every match of the pattern in the name (Java's
//! `String.replaceAll`; with the usual `^...$` patterns that is the one match).
//! In the replacement, `$n` is group `n` (Java reads as many digits as still name a group and leaves the
//! rest as text; a reference whose first digit is already beyond the groups is text, as Kafka's
//! `escapeLiteralBackReferences` makes it), `${name}` a named group, and `\c` the character `c`.
//! Rules are tried in order; the first that applies wins; when none applies the name has no principal
//! ([`PrincipalError::NoMatchingRule`], Kafka's `NoMatchingRule`). Blank rules are skipped, as Kafka
//! skips them, so an empty list maps nothing; Kafka's default list is `["DEFAULT"]`
//! ([`PrincipalMapper::default`]).
//!
//! # Where this differs from Kafka
//!
//! - Patterns are compiled by the `regex` crate, not `java.util.regex`: the common syntax is the same,
//!   but look-around and back-references are not supported, and a rule using them is refused when it is
//!   parsed.
//! - A replacement that cannot work (a trailing `\`, `$` followed by neither a digit nor `{`, an unknown
//!   group name, or a group number when the pattern has no groups) is refused when the rule is parsed;
//!   Kafka accepts the rule and fails each time it is applied.

use std::fmt;

use regex::Regex;
use x509_parser::asn1_rs::{Tag, ToDer as _};
use x509_parser::prelude::{FromDer as _, X509Certificate};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// Why a rule could not be parsed, a name has no principal, or a certificate has no readable subject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrincipalError {
    /// A rule does not follow the grammar `DEFAULT` or `RULE:<pattern>/<replacement>/[L|U]` (Kafka:
    /// "Invalid rule: `<rule>`, unmatched substring: `<rest>`").
    #[error("invalid rule `{rule}`, unmatched substring: `{unmatched}`")]
    InvalidRule {
        /// The rule as given.
        rule: String,
        /// The part of the rule the grammar could not read.
        unmatched: String,
    },
    /// A rule's pattern is not a regular expression this crate can compile.
    #[error("invalid rule `{rule}`: bad pattern: {reason}")]
    InvalidPattern {
        /// The rule as given.
        rule: String,
        /// What the regular-expression compiler said.
        reason: String,
    },
    /// A rule's replacement can never be expanded.
    #[error("invalid rule `{rule}`: bad replacement: {reason}")]
    InvalidReplacement {
        /// The rule as given.
        rule: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No rule applies to the name (Kafka's `NoMatchingRule`: `No rules apply to <dn>, rules [...]`).
    #[error("no rules apply to {name}, rules {rules}")]
    NoMatchingRule {
        /// The distinguished name.
        name: String,
        /// The rules, as Kafka prints them: `[RULE:<pattern>/<replacement>/L, DEFAULT]`.
        rules: String,
    },
    /// The certificate is not a DER X.509 certificate this crate can read.
    #[error("cannot read the client certificate: {reason}")]
    Certificate {
        /// What the parser said.
        reason: String,
    },
}

/// Kafka's `SslPrincipalMapper`: `ssl.principal.mapping.rules`, parsed.
#[derive(Debug, Clone)]
pub struct PrincipalMapper {
    rules: Vec<Rule>,
}

impl Default for PrincipalMapper {
    /// Kafka's default rules, `DEFAULT`: the principal's name is the distinguished name.
    fn default() -> PrincipalMapper {
        PrincipalMapper {
            rules: vec![Rule::Default],
        }
    }
}

impl PrincipalMapper {
    /// Parses the rules, in order. Each string is one rule: `DEFAULT`, or
    /// `RULE:<pattern>/<replacement>/` optionally followed by `L` or `U`. Surrounding white space is
    /// ignored, and so are blank strings.
    pub fn parse(rules: &[String]) -> Result<PrincipalMapper, PrincipalError> {
        let mut parsed = Vec::with_capacity(rules.len());
        for rule in rules {
            if let Some(rule) = Rule::parse(rule.trim())? {
                parsed.push(rule);
            }
        }
        Ok(PrincipalMapper { rules: parsed })
    }

    /// The principal's name for this distinguished name: what the first rule that applies makes of it.
    pub fn name(&self, distinguished_name: &str) -> Result<String, PrincipalError> {
        self.rules
            .iter()
            .find_map(|rule| rule.apply(distinguished_name))
            .ok_or_else(|| PrincipalError::NoMatchingRule {
                name: distinguished_name.to_string(),
                rules: format!(
                    "[{}]",
                    self.rules.iter().map(Rule::to_string).collect::<Vec<_>>().join(", ")
                ),
            })
    }
}

#[derive(Debug, Clone)]
enum Rule {
    Default,
    Replace(Box<Replace>),
}

#[derive(Debug, Clone)]
struct Replace {
    /// The pattern as written, for messages.
    pattern_text: String,
    /// The replacement as written, for messages.
    replacement_text: String,
    /// INVARIANT: the pattern, unanchored: what `replaceAll` replaces.
    pattern: Regex,
    /// INVARIANT: the pattern anchored at both ends: whether the rule applies.
    whole: Regex,
    replacement: Vec<Piece>,
    case: Case,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Keep,
    Lower,
    Upper,
}

/// A part of a parsed replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Group(usize),
    Named(String),
}

impl Rule {
    /// One rule, already trimmed; `None` for a blank one.
    fn parse(rule: &str) -> Result<Option<Rule>, PrincipalError> {
        if rule.is_empty() {
            return Ok(None);
        }
        let invalid = |unmatched: &str| PrincipalError::InvalidRule {
            rule: rule.to_string(),
            unmatched: unmatched.to_string(),
        };
        if let Some(rest) = rule.strip_prefix("DEFAULT") {
            return if rest.is_empty() {
                Ok(Some(Rule::Default))
            } else {
                Err(invalid(rest))
            };
        }
        let Some(body) = rule.strip_prefix("RULE:") else {
            return Err(invalid(rule));
        };
        let (pattern_text, rest) = split_part(body).ok_or_else(|| invalid(rule))?;
        let (replacement_text, rest) = split_part(rest).ok_or_else(|| invalid(rule))?;
        let (case, rest) = match rest.as_bytes().first() {
            Some(b'L') => (Case::Lower, &rest[1..]),
            Some(b'U') => (Case::Upper, &rest[1..]),
            _ => (Case::Keep, rest),
        };
        if !rest.is_empty() {
            return Err(invalid(rest));
        }
        let bad_pattern = |e: regex::Error| PrincipalError::InvalidPattern {
            rule: rule.to_string(),
            reason: e.to_string(),
        };
        let pattern = Regex::new(pattern_text).map_err(bad_pattern)?;
        let whole = Regex::new(&format!(r"\A(?:{pattern_text})\z")).map_err(bad_pattern)?;
        let replacement =
            parse_replacement(replacement_text, &pattern).map_err(|reason| PrincipalError::InvalidReplacement {
                rule: rule.to_string(),
                reason,
            })?;
        Ok(Some(Rule::Replace(Box::new(Replace {
            pattern_text: pattern_text.to_string(),
            replacement_text: replacement_text.to_string(),
            pattern,
            whole,
            replacement,
            case,
        }))))
    }

    /// The principal's name if this rule applies to `name`.
    fn apply(&self, name: &str) -> Option<String> {
        let rule = match self {
            Rule::Default => return Some(name.to_string()),
            Rule::Replace(rule) => rule,
        };
        if !rule.whole.is_match(name) {
            return None;
        }
        let replaced = replace_all(&rule.pattern, name, &rule.replacement);
        Some(match rule.case {
            Case::Keep => replaced,
            Case::Lower => replaced.to_lowercase(),
            Case::Upper => replaced.to_uppercase(),
        })
    }
}

impl fmt::Display for Rule {
    /// Kafka's `Rule.toString`: `DEFAULT`, or `RULE:<pattern>/<replacement>` and `/L` or `/U`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Default => f.write_str("DEFAULT"),
            Rule::Replace(rule) => {
                write!(f, "RULE:{}/{}", rule.pattern_text, rule.replacement_text)?;
                match rule.case {
                    Case::Keep => Ok(()),
                    Case::Lower => f.write_str("/L"),
                    Case::Upper => f.write_str("/U"),
                }
            }
        }
    }
}

/// Reads one part of a rule up to its closing `/`: characters other than `\` and `/`, or `\` and the
/// character after it (any but a line terminator, as Java's `.`). Returns the part and what follows the
/// `/`, or `None` when no `/` closes it.
fn split_part(text: &str) -> Option<(&str, &str)> {
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '/' => return Some((&text[..i], &text[i + 1..])),
            '\\' => match chars.next() {
                Some((_, next)) if !is_line_terminator(next) => {}
                _ => return None,
            },
            _ => {}
        }
    }
    None
}

fn is_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Parses a Java replacement string against the pattern's groups, with Kafka's treatment of group
/// numbers beyond the pattern's groups (see the module docs).
fn parse_replacement(text: &str, pattern: &Regex) -> Result<Vec<Piece>, String> {
    let groups = pattern.captures_len() - 1;
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => literal.push(chars.next().ok_or("a trailing `\\` escapes nothing")?),
            '$' => match chars.peek().copied() {
                Some('{') => {
                    chars.next();
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) if c.is_ascii_alphanumeric() => name.push(c),
                            _ => return Err("`${` must be followed by a group name and `}`".into()),
                        }
                    }
                    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
                        return Err(format!("`${{{name}}}` is not a group name"));
                    }
                    if !pattern.capture_names().any(|n| n == Some(name.as_str())) {
                        return Err(format!("the pattern has no group named `{name}`"));
                    }
                    flush(&mut pieces, &mut literal);
                    pieces.push(Piece::Named(name));
                }
                Some(d) if d.is_ascii_digit() => {
                    let mut digits = String::new();
                    while let Some(d) = chars.next_if(char::is_ascii_digit) {
                        digits.push(d);
                    }
                    let first = usize::from(digits.as_bytes()[0] - b'0');
                    if first > groups {
                        if groups == 0 {
                            return Err(format!("`${digits}` refers to a group, but the pattern has none"));
                        }
                        // Kafka's escapeLiteralBackReferences: the whole reference is text.
                        literal.push('$');
                        literal.push_str(&digits);
                        continue;
                    }
                    // Java reads digits while they still name a group; the rest is text.
                    let mut group = first;
                    let mut used = 1;
                    for d in digits.bytes().skip(1) {
                        match (group * 10).checked_add(usize::from(d - b'0')) {
                            Some(next) if next <= groups => {
                                group = next;
                                used += 1;
                            }
                            _ => break,
                        }
                    }
                    flush(&mut pieces, &mut literal);
                    pieces.push(Piece::Group(group));
                    literal.push_str(&digits[used..]);
                }
                _ => return Err("`$` must be followed by a group number or `{name}`".into()),
            },
            c => literal.push(c),
        }
    }
    flush(&mut pieces, &mut literal);
    Ok(pieces)
}

fn flush(pieces: &mut Vec<Piece>, literal: &mut String) {
    if !literal.is_empty() {
        pieces.push(Piece::Text(std::mem::take(literal)));
    }
}

/// Java's `String.replaceAll`: every match, left to right; after an empty match the search moves on by
/// one character, after a non-empty one it resumes where the match ended (so an empty match right
/// after it counts too).
fn replace_all(pattern: &Regex, text: &str, replacement: &[Piece]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while search <= text.len() {
        let Some(captures) = pattern.captures_at(text, search) else {
            break;
        };
        let Some(whole) = captures.get(0) else {
            break;
        };
        out.push_str(&text[copied..whole.start()]);
        for piece in replacement {
            match piece {
                Piece::Text(s) => out.push_str(s),
                Piece::Group(i) => out.push_str(captures.get(*i).map_or("", |m| m.as_str())),
                Piece::Named(n) => out.push_str(captures.name(n).map_or("", |m| m.as_str())),
            }
        }
        copied = whole.end();
        search = if whole.is_empty() {
            match text[whole.end()..].chars().next() {
                Some(c) => whole.end() + c.len_utf8(),
                None => break,
            }
        } else {
            whole.end()
        };
    }
    out.push_str(&text[copied..]);
    out
}

/// The subject of a DER X.509 certificate as Java's `X500Principal.getName()` prints it (see the module
/// docs): what Kafka's principal mapping rules are applied to.
pub fn distinguished_name(cert_der: &[u8]) -> Result<String, PrincipalError> {
    let (_, cert) =
        X509Certificate::from_der(cert_der).map_err(|e| PrincipalError::Certificate { reason: e.to_string() })?;
    Ok(rfc2253(cert.subject()))
}

/// A name in Java's RFC 2253 form: RDNs last to first, joined by `,`; attributes of one RDN joined by `+`.
fn rfc2253(name: &X509Name<'_>) -> String {
    let rdns: Vec<&_> = name.iter().collect();
    rdns.iter()
        .rev()
        .map(|rdn| rdn.iter().map(attribute).collect::<Vec<_>>().join("+"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The attribute types Java prints by keyword in RFC 2253 form, by dotted OID.
const KEYWORDS: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.9", "STREET"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
];

/// One `type=value`.
fn attribute(atv: &AttributeTypeAndValue<'_>) -> String {
    let oid = atv.attr_type().to_id_string();
    let keyword = KEYWORDS.iter().find(|(o, _)| *o == oid).map(|(_, k)| *k);
    let value = atv.attr_value();
    let text = keyword.and_then(|_| decode_string(value.tag(), value.data));
    match (keyword, text) {
        (Some(keyword), Some(text)) => format!("{keyword}={}", escape(&text)),
        _ => {
            let der = value.to_der_vec().unwrap_or_default();
            let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
            format!("{}=#{hex}", keyword.unwrap_or(&oid))
        }
    }
}

/// The text of a value of one of the string types Java reads, with Java's charset for each; `None` for
/// any other type.
fn decode_string(tag: Tag, content: &[u8]) -> Option<String> {
    match tag {
        Tag::Utf8String => Some(String::from_utf8_lossy(content).into_owned()),
        Tag::PrintableString | Tag::T61String | Tag::Ia5String | Tag::GeneralString => {
            Some(content.iter().map(|&b| char::from(b)).collect())
        }
        Tag::BmpString => {
            let units = content.chunks(2).map(|pair| match pair {
                [hi, lo] => u16::from_be_bytes([*hi, *lo]),
                // An odd final byte is a malformed unit: the replacement character, as Java decodes it.
                _ => 0xFFFD,
            });
            Some(
                char::decode_utf16(units)
                    .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                    .collect(),
            )
        }
        _ => None,
    }
}

/// Java's RFC 2253 escaping of a string value.
fn escape(value: &str) -> String {
    let mut escaped: Vec<char> = Vec::with_capacity(value.len());
    for c in value.chars() {
        match c {
            ',' | '=' | '+' | '<' | '>' | '#' | ';' | '"' | '\\' => escaped.extend(['\\', c]),
            '\0' => escaped.extend(['\\', '0', '0']),
            c => escaped.push(c),
        }
    }
    let blank = |c: &char| *c == ' ' || *c == '\r';
    let lead = escaped.iter().take_while(|c| blank(c)).count();
    let trail = escaped.len() - escaped.iter().rev().take_while(|c| blank(c)).count();
    let mut out = String::with_capacity(escaped.len() + 2);
    for (i, c) in escaped.into_iter().enumerate() {
        if i < lead || i >= trail {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
