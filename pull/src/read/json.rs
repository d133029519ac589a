//! Lenient reading of JSON answers: numbers that arrive as strings (or as `"N/A"`), roots
//! that are wrapped in one version and not in another, HAL lists, dashboard time series,
//! missing fields. A missing or unreadable value is `None`, never a made-up zero.

use serde_json::Value;

/// A number from a JSON number or a numeric string ("23000000", "2.3e7", " 4 ").
pub fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() || s.eq_ignore_ascii_case("n/a") || s.eq_ignore_ascii_case("null") {
                None
            } else {
                s.parse::<f64>().ok().filter(|f| f.is_finite())
            }
        }
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// A non-negative integer; fractional values ("384.0") are accepted when whole.
pub fn uint(v: &Value) -> Option<u64> {
    if let Value::Number(n) = v
        && let Some(u) = n.as_u64()
    {
        return Some(u);
    }
    if let Value::String(s) = v
        && let Ok(u) = s.trim().parse::<u64>()
    {
        return Some(u);
    }
    num(v)
        .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19)
        .map(|f| f as u64)
}

pub fn int(v: &Value) -> Option<i64> {
    if let Value::Number(n) = v
        && let Some(i) = n.as_i64()
    {
        return Some(i);
    }
    if let Value::String(s) = v
        && let Ok(i) = s.trim().parse::<i64>()
    {
        return Some(i);
    }
    num(v)
        .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
        .map(|f| f as i64)
}

pub fn text(v: &Value) -> Option<&str> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// `true`/`false`, `"true"`/`"false"`, 1/0.
pub fn boolish(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        _ => None,
    }
}

/// The object itself, or the object inside a single-key wrapper `{ "<key>": {…} }`.
pub fn unwrap<'a>(v: &'a Value, key: &str) -> &'a Value {
    match v.get(key) {
        Some(inner) if inner.is_object() && v.as_object().is_some_and(|m| m.len() == 1) => inner,
        _ => v,
    }
}

/// A list that may be an array, a single object (XML-shaped JSON), or absent.
pub fn list<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
    match v.get(key) {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => Vec::new(),
    }
}

/// Items of a HAL list (`_embedded._instances`; the old `_embedded.instances` too).
pub fn instances(v: &Value) -> Vec<&Value> {
    let e = &v["_embedded"];
    for k in ["_instances", "instances"] {
        let l = list(e, k);
        if !l.is_empty() || e.get(k).is_some() {
            return l;
        }
    }
    match v {
        Value::Array(a) => a.iter().collect(),
        _ => Vec::new(),
    }
}

/// The value of the latest point of a dashboard series `[{"t":"…","Space":"…"}]`,
/// whatever its value tag.
pub fn latest(series: &Value) -> Option<f64> {
    let points = match series {
        Value::Array(a) => a.as_slice(),
        _ => return None,
    };
    let best = points
        .iter()
        .filter_map(|p| {
            let t = p.get("t").and_then(num).unwrap_or(0.0);
            let v = p
                .as_object()?
                .iter()
                .find(|(k, _)| k.as_str() != "t")
                .and_then(|(_, v)| num(v))?;
            Some((t, v))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    Some(best.1)
}

/// `obj["<key>Current"]` latest value, falling back to the history `obj["<key>"]`.
pub fn current(obj: &Value, key: &str) -> Option<f64> {
    latest(&obj[format!("{key}Current")]).or_else(|| latest(&obj[key]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_in_every_shape() {
        assert_eq!(num(&json!("23000000")), Some(23_000_000.0));
        assert_eq!(num(&json!("23000000.0")), Some(23_000_000.0));
        assert_eq!(num(&json!("2.3e7")), Some(23_000_000.0));
        assert_eq!(num(&json!(4)), Some(4.0));
        assert_eq!(num(&json!("N/A")), None);
        assert_eq!(num(&json!("")), None);
        assert_eq!(num(&Value::Null), None);
        assert_eq!(uint(&json!("384.0")), Some(384));
        assert_eq!(uint(&json!("384.5")), None);
        assert_eq!(uint(&json!(-1)), None);
        assert_eq!(int(&json!("-1")), Some(-1));
        assert_eq!(
            uint(&json!("18446744073709551615")),
            Some(u64::MAX),
            "exact above 2^53"
        );
    }

    #[test]
    fn wrapped_and_unwrapped_roots() {
        let wrapped = json!({"cluster_capacity": {"totalFree_gb": "739"}});
        let flat = json!({"totalFree_gb": 739});
        assert_eq!(
            num(&unwrap(&wrapped, "cluster_capacity")["totalFree_gb"]),
            Some(739.0)
        );
        assert_eq!(
            num(&unwrap(&flat, "cluster_capacity")["totalFree_gb"]),
            Some(739.0)
        );
    }

    #[test]
    fn series_take_the_latest_point() {
        let z = json!({"diskSpaceFreeCurrent": [{"t": "100", "Space": "5"}, {"t": "200", "Space": "7"}], "numGoodNodes": "4"});
        assert_eq!(current(&z, "diskSpaceFree"), Some(7.0));
        assert_eq!(current(&z, "diskSpaceTotal"), None);
        assert_eq!(latest(&json!([{"t": "1", "Space": "N/A"}])), None);
    }

    #[test]
    fn hal_lists() {
        assert_eq!(
            instances(&json!({"_embedded": {"_instances": [{"id": 1}, {"id": 2}]}})).len(),
            2
        );
        assert_eq!(
            instances(&json!({"_embedded": {"instances": [{"id": 1}]}})).len(),
            1
        );
        assert!(instances(&json!({"title": "x"})).is_empty());
        assert_eq!(list(&json!({"node": {"a": 1}}), "node").len(), 1);
    }
}
