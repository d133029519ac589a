//! Over-privilege analysis of IAM policy documents.
//!
//! An entity (user or role) is over-privileged when its effective policies — its attached
//! managed policies (default version), its inline policies and, for a user, those of its
//! groups — grant one of these on every resource without a condition:
//!
//! - `*`: every action of every service;
//! - `iam:*`: every IAM action (it can make itself anything);
//! - `s3:*`: every S3 action (every bucket's data and settings);
//!
//! and no unconditional `Deny` on every resource takes that grant back.
//!
//! The rules, statement by statement:
//!
//! - Only `"Effect": "Allow"` statements grant; only `"Effect": "Deny"` statements take away.
//! - A statement with a `Condition` grants nothing for this analysis (it is limited) and takes
//!   nothing away (it may not apply).
//! - The statement must apply to every resource: `Resource` is `*` or a list holding `*`.
//!   `NotResource` never counts as every resource.
//! - `Action` patterns are globs (`*` any run, `?` one character, case-insensitive). A
//!   pattern covers a whole service `svc` when it ends with `*` and what comes before that
//!   `*` can match the start of `svc:` (`*`, `s3:*`, `S3*`, `*:*`); `s3:*Object` or
//!   `s3:Get*` cover only part of S3. `*` alone is the only thing covering every service.
//! - `NotAction: [patterns]` allows (or denies) everything except the patterns: it covers
//!   a service when no pattern can match any action of it (`NotAction: iam:*` covers s3 and
//!   everything else), and covers `*` only when the list is empty.
//! - `Statement`, `Action`, `NotAction` and `Resource` may each be one value or a list.
//! - `*` (everything) no longer holds once any unconditional Deny on every resource names
//!   any action; `iam:*` and `s3:*` only when a Deny covers that whole service.
//!
//! Documents arrive URL-encoded from the IAM API; [`decode`] undoes that.

use serde_json::Value;

/// What an over-privileged entity is granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grant {
    /// Every action of every service.
    All,
    Iam,
    S3,
}

impl Grant {
    pub fn as_str(self) -> &'static str {
        match self {
            Grant::All => "*",
            Grant::Iam => "iam:*",
            Grant::S3 => "s3:*",
        }
    }

    fn service(self) -> Option<&'static str> {
        match self {
            Grant::All => None,
            Grant::Iam => Some("iam"),
            Grant::S3 => Some("s3"),
        }
    }
}

const GRANTS: [Grant; 3] = [Grant::All, Grant::Iam, Grant::S3];

/// A policy document from the IAM API: URL-encoded (managed and inline policies) or raw
/// JSON (role trust policies, some versions).
pub fn decode(doc: &str) -> Result<Value, String> {
    let trimmed = doc.trim();
    if trimmed.starts_with('{') {
        return serde_json::from_str(trimmed).map_err(|e| format!("policy document: {e}"));
    }
    let decoded = percent_decode(trimmed)?;
    serde_json::from_str(&decoded).map_err(|e| format!("policy document: {e}"))
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad percent escape at byte {i}"))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|e| format!("policy document is not UTF-8: {e}"))
}

fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

/// Glob match of the whole `text`, with `*` and `?`, case-insensitive. Iterative, with
/// backtracking to the last `*` only: O(pattern × text) whatever the document holds
/// (a recursive matcher is exponential on `***…x`).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(c) if *c == b'?' || c.eq_ignore_ascii_case(&text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|c| *c == b'*')
}

/// Whether `pattern` matches some string that starts with `text` (the rest of the string
/// being ours to choose).
fn could_start(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.split_first(), text.split_first()) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some((b'*', _)), _) => true,
        (Some((p, rest)), Some((t, trest))) => {
            (*p == b'?' || p.eq_ignore_ascii_case(t)) && could_start(rest, trest)
        }
    }
}

/// Whether `pattern` matches every action of `service` (`Some`), or of every service.
fn covers_all(pattern: &str, service: Option<&str>) -> bool {
    let p = pattern.trim().as_bytes();
    let Some(stem) = p.strip_suffix(b"*") else {
        return false;
    };
    match service {
        // Every service: only a pattern that is all stars (`*`, `**`) or `*:*`.
        None => stem.iter().all(|c| *c == b'*') || stem.eq_ignore_ascii_case(b"*:"),
        Some(svc) => {
            let target = format!("{svc}:");
            // The stem must match some prefix of "svc:"; everything after is the `*`.
            (0..=target.len()).any(|k| glob(stem, &target.as_bytes()[..k]))
        }
    }
}

/// Whether `pattern` could match any action of `service`.
fn touches(pattern: &str, service: &str) -> bool {
    could_start(pattern.trim().as_bytes(), format!("{service}:").as_bytes())
}

/// What one statement allows or denies on every resource, unconditionally.
fn statement_covers(st: &Value, grant: Grant) -> bool {
    if st
        .get("Condition")
        .is_some_and(|c| !c.is_null() && c.as_object().is_none_or(|m| !m.is_empty()))
    {
        return false;
    }
    let every_resource = st
        .get("Resource")
        .and_then(strings)
        .is_some_and(|r| r.iter().any(|x| x.trim() == "*"));
    if !every_resource {
        return false;
    }
    if let Some(actions) = st.get("Action").and_then(strings) {
        return actions.iter().any(|a| covers_all(a, grant.service()));
    }
    if let Some(except) = st.get("NotAction").and_then(strings) {
        return match grant.service() {
            None => except.is_empty(),
            Some(svc) => !except.iter().any(|a| touches(a, svc)),
        };
    }
    false
}

/// Whether an unconditional statement on every resource names any action at all.
fn denies_something(st: &Value) -> bool {
    let unconditional = st
        .get("Condition")
        .is_none_or(|c| c.is_null() || c.as_object().is_some_and(|m| m.is_empty()));
    let every_resource = st
        .get("Resource")
        .and_then(strings)
        .is_some_and(|r| r.iter().any(|x| x.trim() == "*"));
    let acts = st
        .get("Action")
        .and_then(strings)
        .is_some_and(|a| !a.is_empty())
        || st
            .get("NotAction")
            .and_then(strings)
            .is_some_and(|n| !n.iter().any(|x| x.trim() == "*"));
    unconditional && every_resource && acts
}

fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => Vec::new(),
    }
}

fn effect(st: &Value) -> &str {
    st.get("Effect").and_then(Value::as_str).unwrap_or("")
}

/// The grants an entity's documents give, Deny taken into account, most sweeping first.
pub fn over_privilege(documents: &[Value]) -> Vec<Grant> {
    let all: Vec<&Value> = documents.iter().flat_map(statements).collect();
    let deny: Vec<&Value> = all
        .iter()
        .copied()
        .filter(|st| effect(st).eq_ignore_ascii_case("deny"))
        .collect();
    let denied = |g: Grant| match g {
        // "Everything" no longer holds once anything at all is denied everywhere.
        Grant::All => deny.iter().any(|st| denies_something(st)),
        _ => deny
            .iter()
            .any(|st| statement_covers(st, g) || statement_covers(st, Grant::All)),
    };
    GRANTS
        .into_iter()
        .filter(|g| {
            all.iter()
                .any(|st| effect(st).eq_ignore_ascii_case("allow") && statement_covers(st, *g))
                && !denied(*g)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(docs: &[&str]) -> Vec<&'static str> {
        let docs: Vec<Value> = docs.iter().map(|d| decode(d).unwrap()).collect();
        over_privilege(&docs)
            .into_iter()
            .map(Grant::as_str)
            .collect()
    }

    #[test]
    fn policy_documents_and_their_verdicts() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            (
                "admin",
                &[r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#],
                &["*", "iam:*", "s3:*"],
            ),
            (
                "statement as an object",
                &[r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#],
                &["s3:*"],
            ),
            (
                "lists",
                &[
                    r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","iam:*"],"Resource":["arn:aws:s3:::a","*"]}]}"#,
                ],
                &["iam:*"],
            ),
            (
                "read only",
                &[
                    r#"{"Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"}]}"#,
                ],
                &[],
            ),
            (
                "wildcard in the middle",
                &[r#"{"Statement":[{"Effect":"Allow","Action":"s3:*Object","Resource":"*"}]}"#],
                &[],
            ),
            (
                "one bucket only",
                &[
                    r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::data/*"}]}"#,
                ],
                &[],
            ),
            (
                "a condition limits it",
                &[
                    r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}]}"#,
                ],
                &[],
            ),
            (
                "deny overrides",
                &[
                    r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*"}]}"#,
                ],
                &[],
            ),
            (
                "deny in another policy",
                &[
                    r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
                    r#"{"Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#,
                ],
                &[],
            ),
            (
                "deny of one service keeps the other",
                &[
                    r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}"#,
                ],
                &["s3:*"],
            ),
            (
                "a conditional deny takes nothing back",
                &[
                    r#"{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}"#,
                ],
                &["iam:*"],
            ),
            (
                "NotAction grants the rest",
                &[r#"{"Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}"#],
                &["s3:*"],
            ),
            (
                "NotAction of s3 reads still grants iam",
                &[r#"{"Statement":[{"Effect":"Allow","NotAction":["s3:Get*"],"Resource":"*"}]}"#],
                &["iam:*"],
            ),
            (
                "prefix wildcards",
                &[
                    r#"{"Statement":[{"Effect":"Allow","Action":"S3*","Resource":"*"},{"Effect":"Allow","Action":"*:*","Resource":"*"}]}"#,
                ],
                &["*", "iam:*", "s3:*"],
            ),
            (
                "question marks",
                &[r#"{"Statement":[{"Effect":"Allow","Action":"ia?:*","Resource":"*"}]}"#],
                &["iam:*"],
            ),
            (
                "NotResource is not every resource",
                &[
                    r#"{"Statement":[{"Effect":"Allow","Action":"*","NotResource":"arn:aws:s3:::secret/*"}]}"#,
                ],
                &[],
            ),
            (
                "URL-encoded, as the IAM API sends it",
                &[
                    "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D",
                ],
                &["s3:*"],
            ),
            (
                "deny with NotAction denies the rest",
                &[
                    r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","NotAction":"s3:*","Resource":"*"}]}"#,
                ],
                &["s3:*"],
            ),
            (
                "an empty condition is no condition",
                &[
                    r#"{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{}}]}"#,
                ],
                &["iam:*"],
            ),
        ];
        for (name, docs, expected) in cases {
            assert_eq!(verdict(docs), *expected, "{name}");
        }
    }

    #[test]
    fn globs_are_linear_whatever_the_pattern() {
        assert!(glob(b"s3:*object", b"s3:GetObject"));
        assert!(!glob(b"s3:*object", b"s3:GetObjectAcl"));
        assert!(glob(b"*", b""));
        assert!(glob(b"a*b*c", b"aXXbYYc"));
        // Exponential for a naive recursive matcher (it would not finish); linear here.
        let evil = format!("{}x*", "*".repeat(2000));
        let statement =
            format!(r#"{{"Statement":[{{"Effect":"Allow","Action":"{evil}","Resource":"*"}}]}}"#);
        assert!(over_privilege(&[decode(&statement).unwrap()]).is_empty());
    }

    #[test]
    fn decode_rejects_garbage_with_a_reason() {
        assert!(decode("%7B%ZZ").is_err());
        assert!(decode("not json").is_err());
        assert!(decode("{}").is_ok());
    }
}
