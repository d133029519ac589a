//! The Prometheus text format (0.0.4) and its OpenMetrics successor, read into families:
//! `# HELP`, `# TYPE` and `# UNIT` lines, samples `name{label="value",...} value
//! [timestamp] [# exemplar]`, `# EOF`. A histogram's `_bucket`, `_sum`, `_count` (and a
//! summary's quantiles, `_sum`, `_count`) lines become one point per label set; `_total`
//! and `_created` belong to their counter. Sample timestamps and exemplars are read past.

use std::collections::HashMap;

/// A family's type as the page declares it; a sample without `# TYPE` is untyped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

/// One series of a family (a histogram or summary point gathers several sample lines).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Point {
    pub labels: Vec<(String, String)>,
    /// counter, gauge, untyped
    pub value: Option<f64>,
    /// histogram: (upper bound `le`, cumulative count), in page order
    pub buckets: Vec<(f64, f64)>,
    /// summary: (quantile, value), in page order
    pub quantiles: Vec<(f64, f64)>,
    pub sum: Option<f64>,
    pub count: Option<f64>,
    /// `_created`: when the series started counting, in seconds since the epoch.
    pub created: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: String,
    pub unit: String,
    pub kind: Kind,
    pub points: Vec<Point>,
}

/// A page that is not in the format, with the line that says so.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct ParseError {
    pub line: usize,
    pub what: String,
}

/// What a sample line is to its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Value,
    Bucket,
    Quantile,
    Sum,
    Count,
    Created,
}

#[derive(Default)]
struct Page {
    families: Vec<Family>,
    by_name: HashMap<String, usize>,
    /// (family, labels) → index of the point in its family
    points: HashMap<(usize, Vec<(String, String)>), usize>,
}

/// The families of a page with at least one sample, in the order they appear.
pub fn parse(text: &str) -> Result<Vec<Family>, ParseError> {
    let mut page = Page::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let fail = |what: String| ParseError { line: i + 1, what };
        if line.is_empty() {
            continue;
        }
        if line == "# EOF" {
            break;
        }
        let r = match line.strip_prefix('#') {
            Some(comment) => page.metadata(comment.trim_start()),
            None => page.sample(line),
        };
        r.map_err(fail)?;
    }
    Ok(page
        .families
        .into_iter()
        .filter(|f| !f.points.is_empty())
        .collect())
}

impl Page {
    fn family(&mut self, name: &str) -> usize {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        self.families.push(Family {
            name: name.to_owned(),
            help: String::new(),
            unit: String::new(),
            kind: Kind::Untyped,
            points: Vec::new(),
        });
        self.by_name
            .insert(name.to_owned(), self.families.len() - 1);
        self.families.len() - 1
    }

    /// `HELP`, `TYPE` and `UNIT` lines; other comments are ignored.
    fn metadata(&mut self, comment: &str) -> Result<(), String> {
        let mut parts = comment.splitn(3, [' ', '\t']);
        let keyword = parts.next().unwrap_or_default();
        if !matches!(keyword, "HELP" | "TYPE" | "UNIT") {
            return Ok(());
        }
        let name = parts.next().unwrap_or_default();
        if !is_metric_name(name) {
            return Err(format!("# {keyword}: {name:?} is not a metric name"));
        }
        let rest = parts.next().unwrap_or_default().trim();
        let i = self.family(name);
        let f = &mut self.families[i];
        match keyword {
            "HELP" => f.help = unescape(rest),
            "UNIT" => f.unit = rest.to_owned(),
            _ if !f.points.is_empty() => {
                return Err(format!("# TYPE of {name} comes after its samples"));
            }
            _ => f.kind = kind(rest).ok_or_else(|| format!("unknown type {rest:?}"))?,
        }
        Ok(())
    }

    fn sample(&mut self, line: &str) -> Result<(), String> {
        let (name, rest) = split_name(line);
        if !is_metric_name(name) {
            return Err(format!("{name:?} is not a metric name"));
        }
        let (mut labels, rest) = match rest.strip_prefix('{') {
            Some(inside) => labels(inside)?,
            None => (Vec::new(), rest),
        };
        let value = sample_value(rest)?;
        let (fi, role) = self.resolve(name);
        if role == Role::Value && self.families[fi].kind == Kind::Histogram {
            return Err(format!(
                "{name}: a histogram's lines end in _bucket, _sum or _count"
            ));
        }
        let special = match role {
            Role::Bucket => Some(take_label(&mut labels, "le", name)?),
            Role::Quantile => Some(take_label(&mut labels, "quantile", name)?),
            _ => None,
        };
        let pi = self.point(fi, labels);
        let p = &mut self.families[fi].points[pi];
        let slot = match role {
            Role::Value => &mut p.value,
            Role::Sum => &mut p.sum,
            Role::Count => &mut p.count,
            Role::Created => &mut p.created,
            Role::Bucket | Role::Quantile => {
                let list = if role == Role::Bucket {
                    &mut p.buckets
                } else {
                    &mut p.quantiles
                };
                list.push((special.unwrap_or_default(), value));
                return Ok(());
            }
        };
        if slot.replace(value).is_some() {
            return Err(format!("{name}: the same series twice"));
        }
        Ok(())
    }

    /// The family a sample belongs to: its own name's, or the declared family its suffix
    /// points to; a new untyped family otherwise.
    fn resolve(&mut self, name: &str) -> (usize, Role) {
        if let Some(&i) = self.by_name.get(name) {
            let role = match self.families[i].kind {
                Kind::Summary => Role::Quantile,
                _ => Role::Value,
            };
            if self.families[i].kind != Kind::Histogram {
                return (i, role);
            }
        }
        let suffixes = [
            ("_bucket", Role::Bucket),
            ("_sum", Role::Sum),
            ("_count", Role::Count),
            ("_created", Role::Created),
            ("_total", Role::Value),
        ];
        for (suffix, role) in suffixes {
            let Some(base) = name.strip_suffix(suffix) else {
                continue;
            };
            // A 0.0.4 counter is named with its `_total`; its `_created` drops it.
            let candidates = [base.to_owned(), format!("{base}_total")];
            for c in candidates {
                if let Some(&i) = self.by_name.get(&c)
                    && fits(self.families[i].kind, role)
                {
                    return (i, role);
                }
            }
        }
        (self.family(name), Role::Value)
    }

    fn point(&mut self, fi: usize, labels: Vec<(String, String)>) -> usize {
        let key = (fi, labels);
        if let Some(&pi) = self.points.get(&key) {
            return pi;
        }
        let points = &mut self.families[fi].points;
        points.push(Point {
            labels: key.1.clone(),
            ..Point::default()
        });
        self.points.insert(key, points.len() - 1);
        points.len() - 1
    }
}

fn fits(kind: Kind, role: Role) -> bool {
    matches!(
        (kind, role),
        (
            Kind::Histogram,
            Role::Bucket | Role::Sum | Role::Count | Role::Created
        ) | (Kind::Summary, Role::Sum | Role::Count | Role::Created)
            | (Kind::Counter, Role::Value | Role::Created)
    )
}

fn kind(word: &str) -> Option<Kind> {
    Some(match word {
        "counter" => Kind::Counter,
        "gauge" | "info" | "stateset" => Kind::Gauge,
        "histogram" => Kind::Histogram,
        "summary" => Kind::Summary,
        // A gauge histogram's buckets are read as untyped series of their own.
        "untyped" | "unknown" | "gaugehistogram" => Kind::Untyped,
        _ => return None,
    })
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn split_name(line: &str) -> (&str, &str) {
    let end = line
        .find(|c: char| c == '{' || c.is_ascii_whitespace())
        .unwrap_or(line.len());
    line.split_at(end)
}

type Labels = Vec<(String, String)>;

/// The labels after `{`, and what follows the closing `}`.
fn labels(mut s: &str) -> Result<(Labels, &str), String> {
    let mut out: Labels = Vec::new();
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((out, rest));
        }
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .ok_or("unterminated labels")?;
        let (name, rest) = s.split_at(end);
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("bad label name at {:?}", short(s)));
        }
        let rest = rest.trim_start().strip_prefix('=').ok_or("expected =")?;
        let rest = rest.trim_start().strip_prefix('"').ok_or("expected \"")?;
        let (value, rest) = quoted(rest)?;
        if out.iter().any(|(n, _)| n == name) {
            return Err(format!("label {name} twice"));
        }
        out.push((name.to_owned(), value));
        s = rest.trim_start();
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

/// A label value up to its closing quote: `\\`, `\"` and `\n` are escapes.
fn quoted(s: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, e @ ('\\' | '"'))) => out.push(e),
                Some((_, other)) => {
                    out.push('\\');
                    out.push(other);
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("unterminated label value".into())
}

/// `\\` and `\n` (and OpenMetrics' `\"`) in HELP text.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(e @ ('\\' | '"')) => out.push(e),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// The value after the name and labels; a timestamp and an exemplar may follow.
fn sample_value(rest: &str) -> Result<f64, String> {
    let mut words = rest.split_ascii_whitespace();
    let raw = words.next().ok_or("no value")?;
    let value = number(raw).ok_or_else(|| format!("{raw:?} is not a number"))?;
    match words.next() {
        Some(ts) if !ts.starts_with('#') && number(ts).is_none() => {
            Err(format!("{ts:?} is not a timestamp"))
        }
        _ => Ok(value),
    }
}

/// Go's float syntax as far as pages use it: `1`, `-2.5e3`, `+Inf`, `-Inf`, `NaN`.
pub fn number(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ if s
            .bytes()
            .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E') =>
        {
            None
        }
        _ => s.parse().ok(),
    }
}

fn take_label(labels: &mut Vec<(String, String)>, name: &str, of: &str) -> Result<f64, String> {
    let i = labels
        .iter()
        .position(|(n, _)| n == name)
        .ok_or_else(|| format!("{of}: no {name} label"))?;
    let (_, v) = labels.remove(i);
    number(&v).ok_or_else(|| format!("{of}: {name}={v:?} is not a number"))
}

fn short(s: &str) -> &str {
    s.char_indices().nth(20).map_or(s, |(i, _)| &s[..i])
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
