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

/// The root element's name and its content. Attributes are not kept: answers carry their
/// data in elements, and namespace declarations would turn every text element into an
/// object.
pub fn parse(text: &str) -> Result<(String, Value), String> {
    parse_tree(text, false)
}

/// Like [`parse`], keeping attributes as `@name` (namespace declarations aside); an element
/// with attributes and text keeps its text as `#text`. For documents users point a
/// receiver at, where attributes often hold the data.
pub fn parse_with_attributes(text: &str) -> Result<(String, Value), String> {
    parse_tree(text, true)
}

/// An element's attributes as `@name` entries, when they are kept.
fn attributes(e: &quick_xml::events::BytesStart<'_>, keep: bool) -> Map<String, Value> {
    let mut m = Map::new();
    if keep {
        for a in e.attributes().flatten() {
            let key = a.key.0;
            if key == "xmlns" || key.starts_with("xmlns:") {
                continue;
            }
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| a.value.clone().into_owned());
            m.insert(format!("@{}", local(key)), Value::String(v));
        }
    }
    m
}

/// A finished element: its text alone, or its children and attributes (and `#text`).
fn element(mut map: Map<String, Value>, text: String) -> Value {
    let text = text.trim();
    if map.is_empty() {
        return Value::String(text.to_owned());
    }
    if !text.is_empty() && map.keys().all(|k| k.starts_with('@')) {
        map.insert("#text".into(), Value::String(text.to_owned()));
    }
    Value::Object(map)
}

fn parse_tree(text: &str, keep_attributes: bool) -> Result<(String, Value), String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<(String, Map<String, Value>, String)> = Vec::new();
    loop {
        match reader
            .read_event()
            .map_err(|e| format!("{e} at byte {}", reader.buffer_position()))?
        {
            Event::Start(e) => stack.push((
                local(e.name().0),
                attributes(&e, keep_attributes),
                String::new(),
            )),
            Event::Empty(e) => {
                let name = local(e.name().0);
                let v = element(attributes(&e, keep_attributes), String::new());
                match stack.last_mut() {
                    Some((_, m, _)) => insert(m, name, v),
                    None => return Ok((name, v)),
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
                    s.push_str(&entity(&r));
                }
            }
            Event::End(_) => {
                let Some((name, map, text)) = stack.pop() else {
                    return Err("unbalanced end tag".into());
                };
                let v = element(map, text);
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

/// The character an entity reference stands for (`amp`, `#x41`, `#65`).
fn entity(r: &str) -> String {
    match r {
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
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn attributes_are_kept_only_when_asked() {
        let doc = r#"<disks xmlns="urn:x"><disk name="sda" used="42">ok</disk><disk name="sdb"><used>7</used></disk><empty id="e"/></disks>"#;
        let (_, plain) = parse(doc).unwrap();
        assert_eq!(plain["disk"][0], "ok");
        let (root, v) = parse_with_attributes(doc).unwrap();
        assert_eq!(root, "disks");
        assert_eq!(v["disk"][0]["@name"], "sda");
        assert_eq!(v["disk"][0]["@used"], "42");
        assert_eq!(v["disk"][0]["#text"], "ok");
        assert_eq!(v["disk"][1]["@name"], "sdb");
        assert_eq!(v["disk"][1]["used"], "7");
        assert_eq!(v["empty"]["@id"], "e");
        assert!(v.get("@xmlns").is_none());
    }

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
