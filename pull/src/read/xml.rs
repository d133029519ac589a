//! XML answers (APIs, or some of their calls, that answer only XML) read into the same
//! tree shape as JSON, so that the [`super::json`] readers apply: elements become objects,
//! repeated elements arrays, text strings. Namespace prefixes are dropped
//! (`ns2:ListUsersResponse` → `ListUsersResponse`).

use quick_xml::events::Event;
use serde_json::{Map, Value};

fn local(name: &str) -> String {
    name.rsplit(':').next().unwrap_or(name).to_owned()
}

fn insert(map: &mut Map<String, Value>, k: String, v: Value) {
    match map.get_mut(&k) {
        Some(Value::Array(items)) => items.push(v),
        Some(existing) => {
            let prev = existing.take();
            *existing = Value::Array(vec![prev, v]);
        }
        None => {
            map.insert(k, v);
        }
    }
}

/// The root element's name and its content.
pub fn parse(text: &str) -> Result<(String, Value), String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<(String, Map<String, Value>, String)> = Vec::new();
    loop {
        match reader
            .read_event()
            .map_err(|e| format!("{e} at byte {}", reader.buffer_position()))?
        {
            Event::Start(e) => stack.push((local(e.name().0), Map::new(), String::new())),
            Event::Empty(e) => {
                let name = local(e.name().0);
                match stack.last_mut() {
                    Some((_, m, _)) => insert(m, name, Value::String(String::new())),
                    None => return Ok((name, Value::Object(Map::new()))),
                }
            }
            Event::Text(t) => {
                if let Some((_, _, s)) = stack.last_mut() {
                    s.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some((_, _, s)) = stack.last_mut() {
                    s.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                if let Some((_, _, s)) = stack.last_mut() {
                    let c = match &*r {
                        "amp" => "&".to_owned(),
                        "lt" => "<".to_owned(),
                        "gt" => ">".to_owned(),
                        "quot" => "\"".to_owned(),
                        "apos" => "'".to_owned(),
                        other => other
                            .strip_prefix("#x")
                            .and_then(|h| u32::from_str_radix(h, 16).ok())
                            .or_else(|| other.strip_prefix('#').and_then(|d| d.parse().ok()))
                            .and_then(char::from_u32)
                            .map(String::from)
                            .unwrap_or_default(),
                    };
                    s.push_str(&c);
                }
            }
            Event::End(_) => {
                let Some((name, map, text)) = stack.pop() else {
                    return Err("unbalanced end tag".into());
                };
                let v = if map.is_empty() {
                    Value::String(text.trim().to_owned())
                } else {
                    Value::Object(map)
                };
                match stack.last_mut() {
                    Some((_, m, _)) => insert(m, name, v),
                    None => return Ok((name, v)),
                }
            }
            Event::Eof => {
                return Err(if stack.is_empty() {
                    "no root element".into()
                } else {
                    "truncated document".into()
                });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dt_stats_with_several_entries() {
        let (root, v) = parse("<?xml version=\"1.0\"?>\n<stats>\n <entry><total_dt_num>384.0</total_dt_num><unready_dt_num>0</unready_dt_num></entry>\n <entry><type>OB</type><total_dt_num>256</total_dt_num></entry>\n</stats>").unwrap();
        assert_eq!(root, "stats");
        assert_eq!(v["entry"].as_array().unwrap().len(), 2);
        assert_eq!(v["entry"][0]["total_dt_num"], "384.0");
    }

    #[test]
    fn prefixes_entities_and_truncation() {
        let (root, v) = parse("<ns2:ListUsersResponse xmlns:ns2=\"none\"><a>x &amp; y &#65;</a></ns2:ListUsersResponse>").unwrap();
        assert_eq!(root, "ListUsersResponse");
        assert_eq!(v["a"], "x & y A");
        assert!(parse("<a><b>1</b>").is_err());
    }
}
