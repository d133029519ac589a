//! `${env:VAR}` / `${VAR}` expansion in configuration values, as the OpenTelemetry
//! Collector does it: after parsing, so a value can never inject YAML structure, and only
//! in values, never in keys. A value that is exactly one reference takes the type of what
//! the variable holds (`9438` is a number) where the setting wants that type, and stays the
//! variable's text where it wants a string (a password of digits); `$$` is a literal `$`;
//! `${env:VAR:-default}` falls back when VAR is unset.

use std::collections::BTreeMap;

use pipeline::config::{Problems, join};
use serde_json::Value;

/// The variable's text of every value that expansion turned into a number or a boolean,
/// by path: a setting that turns out to want a string gets the text back.
pub type Typed = BTreeMap<String, String>;

/// The path of item `i` of the list at `path`, as serde_path_to_error writes it.
fn item_path(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// Expands every string in `v`; problems name the path of the value.
pub fn expand(
    v: &mut Value,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    problems: &mut Problems,
    typed: &mut Typed,
) {
    match v {
        Value::String(s) => {
            if !s.contains('$') {
                return;
            }
            match expand_str(s, lookup) {
                Ok((text, true)) => {
                    *v = scalar(&text);
                    if !v.is_string() {
                        typed.insert(path.to_owned(), text);
                    }
                }
                Ok((text, false)) => *v = Value::String(text),
                Err(e) => problems.push(path, e),
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand(item, &item_path(path, i), lookup, problems, typed);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                expand(item, &join(path, k), lookup, problems, typed);
            }
        }
        _ => {}
    }
}

/// Puts `text` back as the string value at `target`, `v` being the value at `path`.
/// False if there is no such value, or it is a string already.
pub fn restore_text(v: &mut Value, path: &str, target: &str, text: &str) -> bool {
    if path == target {
        if v.is_string() {
            return false;
        }
        *v = Value::String(text.to_owned());
        return true;
    }
    match v {
        Value::Array(items) => items
            .iter_mut()
            .enumerate()
            .any(|(i, item)| restore_text(item, &item_path(path, i), target, text)),
        Value::Object(map) => map
            .iter_mut()
            .any(|(k, item)| restore_text(item, &join(path, k), target, text)),
        _ => false,
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
        expand(&mut v, "", &lookup, &mut p, &mut Typed::new());
        (v, p.into_vec().into_iter().map(|p| p.to_string()).collect())
    }

    /// Expands `{"v": "${env:X}"}` with X holding `value`.
    fn expand_one(template: &str, vars: &[(&str, &str)]) -> (Value, Typed) {
        let mut v = json!({"v": template});
        let mut p = Problems::default();
        let mut typed = Typed::new();
        let lookup = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        };
        expand(&mut v, "", &lookup, &mut p, &mut typed);
        assert!(p.is_empty(), "{:?}", p.into_vec());
        (v["v"].take(), typed)
    }

    #[test]
    fn a_variable_cannot_inject_yaml_structure() {
        for value in [
            "{a: 1}",
            "[1, 2]",
            "a: b\nc: d",
            "- a\n- b",
            "null",
            "~",
            "&x *x",
            "!!map {}",
            "",
            "9438 # comment",
        ] {
            let (v, typed) = expand_one("${env:X}", &[("X", value)]);
            assert_eq!(v, Value::String(value.into()), "{value:?}");
            assert!(typed.is_empty(), "{value:?}");
        }
    }

    #[test]
    fn a_whole_reference_to_a_number_or_boolean_keeps_its_text_aside() {
        for (value, typed_as) in [
            ("9438", json!(9438)),
            ("-3", json!(-3)),
            ("1.50", json!(1.5)),
            ("true", json!(true)),
            ("FALSE", json!(false)),
        ] {
            let (v, typed) = expand_one("${env:X}", &[("X", value)]);
            assert_eq!(v, typed_as, "{value:?}");
            assert_eq!(typed, Typed::from([("v".into(), value.into())]));
        }
    }

    #[test]
    fn two_references_make_a_string() {
        let (v, typed) = expand_one("${env:A}${env:B}", &[("A", "1"), ("B", "2")]);
        assert_eq!(v, json!("12"));
        assert!(typed.is_empty());
        let (v, _) = expand_one("${env:A}.5", &[("A", "1")]);
        assert_eq!(v, json!("1.5"));
    }

    #[test]
    fn keys_are_never_expanded() {
        let (v, p) = run(json!({"${env:HOST}": {"${PORT}": "${env:HOST}"}}));
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(v, json!({"${env:HOST}": {"${PORT}": "ecs.example"}}));
    }

    #[test]
    fn restoring_the_text_finds_the_path_in_maps_and_lists() {
        let mut v = json!({"a": {"b": [1, {"c": 123}]}});
        assert!(restore_text(&mut v, "root", "root.a.b[1].c", "0123"));
        assert_eq!(v, json!({"a": {"b": [1, {"c": "0123"}]}}));
        // Already a string: nothing to restore, so a caller cannot loop on it.
        assert!(!restore_text(&mut v, "root", "root.a.b[1].c", "0123"));
        assert!(!restore_text(&mut v, "root", "root.a.x", "1"));
        assert!(restore_text(&mut v, "root", "root.a.b[0]", "1"));
        assert_eq!(v, json!({"a": {"b": ["1", {"c": "0123"}]}}));
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
