//! `${env:VAR}` / `${VAR}` expansion in configuration values, as the OpenTelemetry
//! Collector does it: after parsing, so a value can never inject YAML structure. A value
//! that is exactly one reference takes the type of what the variable holds (`9438` is a
//! number); `$$` is a literal `$`; `${env:VAR:-default}` falls back when VAR is unset.

use pipeline::config::{Problems, join};
use serde_json::Value;

/// Expands every string in `v`; problems name the path of the value.
pub fn expand(
    v: &mut Value,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    problems: &mut Problems,
) {
    match v {
        Value::String(s) => {
            if !s.contains('$') {
                return;
            }
            match expand_str(s, lookup) {
                Ok((text, whole)) => {
                    *v = if whole {
                        scalar(&text)
                    } else {
                        Value::String(text)
                    };
                }
                Err(e) => problems.push(path, e),
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand(item, &format!("{path}[{i}]"), lookup, problems);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                expand(item, &join(path, k), lookup, problems);
            }
        }
        _ => {}
    }
}

/// The expanded text, and whether the input was a single reference and nothing else.
fn expand_str(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<(String, bool), String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut refs = 0;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| format!("unterminated reference in {s:?}"))?;
            let written = &body[..end];
            let reference = written.strip_prefix("env:").unwrap_or(written);
            let (name, default) = match reference.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (reference, None),
            };
            if name.is_empty()
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || name.starts_with(|c: char| c.is_ascii_digit())
            {
                return Err(format!(
                    "invalid environment variable name {name:?} in {s:?}"
                ));
            }
            match (lookup(name), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => {
                    return Err(format!(
                        "environment variable {name} is not set (referenced as ${{{written}}})"
                    ));
                }
            }
            refs += 1;
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    let whole =
        refs == 1 && s.starts_with("${") && s.ends_with('}') && s.matches("${").count() == 1;
    Ok((out, whole))
}

/// A variable's text as a YAML scalar would read: numbers and booleans keep their type.
fn scalar(text: &str) -> Value {
    let t = text.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Value::from(i);
    }
    if t.contains(['.', 'e', 'E'])
        && let Ok(f) = t.parse::<f64>()
        && f.is_finite()
    {
        return Value::from(f);
    }
    match t {
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => Value::String(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "PORT" => Some("9438".into()),
            "HOST" => Some("ecs.example".into()),
            "PASSWORD" => Some("p$ss".into()),
            _ => None,
        }
    }

    fn run(v: Value) -> (Value, Vec<String>) {
        let mut v = v;
        let mut p = Problems::default();
        expand(&mut v, "", &lookup, &mut p);
        (v, p.into_vec().into_iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn references_and_types() {
        let (v, p) = run(
            json!({"a": "${env:PORT}", "b": "https://${HOST}:4443", "c": "${env:PASSWORD}", "d": "$$HOME", "e": "${env:NOPE:-fallback}"}),
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(
            v,
            json!({"a": 9438, "b": "https://ecs.example:4443", "c": "p$ss", "d": "$HOME", "e": "fallback"})
        );
    }

    #[test]
    fn missing_variables_name_the_path() {
        let (_, p) = run(json!({"receivers": {"ecs": {"password": "${env:ECS_PASSWORD}"}}}));
        assert_eq!(
            p,
            vec![
                "receivers.ecs.password: environment variable ECS_PASSWORD is not set (referenced as ${env:ECS_PASSWORD})"
            ]
        );
    }
}
