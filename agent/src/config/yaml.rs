//! A small YAML writer for `print-config`: maps, lists and scalars, quoted where YAML
//! would otherwise read them as something else.

use serde_json::Value;

pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    write(&mut out, v, 0);
    out
}

fn write(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, item) in map {
                pad(out, indent);
                out.push_str(&key(k));
                out.push(':');
                block_or_inline(out, item, indent);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                pad(out, indent);
                out.push('-');
                block_or_inline(out, item, indent);
            }
        }
        other => {
            pad(out, indent);
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn block_or_inline(out: &mut String, item: &Value, indent: usize) {
    match item {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write(out, item, indent + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write(out, item, indent + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn key(k: &str) -> String {
    if plain(k) { k.to_owned() } else { quote(k) }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if plain(s) => s.clone(),
        Value::String(s) => quote(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// True when the string reads back as the same string without quotes.
fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-:".contains(c))
        && !s.starts_with(['-', ':', '.'])
        && !s.ends_with(':')
        && !s.contains(": ")
        && s.parse::<f64>().is_err()
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "~"
        )
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_nested_yaml() {
        let v = json!({"exporters": {"prometheus": {"endpoint": "0.0.0.0:9438", "users": {}}, "otlp": {"headers": {"authorization": "[REDACTED]"}}}, "service": {"pipelines": {"metrics": {"receivers": ["self"]}}}, "n": 5, "s": "true"});
        let y = to_yaml(&v);
        assert_eq!(
            y,
            "exporters:\n  prometheus:\n    endpoint: 0.0.0.0:9438\n    users: {}\n  otlp:\n    headers:\n      authorization: \"[REDACTED]\"\nservice:\n  pipelines:\n    metrics:\n      receivers:\n        - self\nn: 5\ns: \"true\"\n"
        );
    }
}
