//! Reads an XML document into the same tree shape as JSON (elements → objects, repeated
//! elements → arrays, text → strings), so that one checker serves both encodings.

use quick_xml::events::Event;
use serde_json::{Map, Value};

pub struct Parsed {
    pub root: String,
    pub tree: Value,
}

fn insert(map: &mut Map<String, Value>, k: String, v: Value) {
    match map.get_mut(&k) {
        // A repeated element: the values collect into an array.
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

pub fn parse(text: &str) -> Result<Parsed, String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<(String, Map<String, Value>, String)> = Vec::new();
    let mut root = None;
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => stack.push((e.name().0.to_owned(), Map::new(), String::new())),
            Event::Empty(e) => {
                let name = e.name().0.to_owned();
                match stack.last_mut() {
                    Some((_, m, _)) => insert(m, name, Value::String(String::new())),
                    None => root = Some((name, Value::Object(Map::new()))),
                }
            }
            Event::Text(t) => {
                if let Some((_, _, s)) = stack.last_mut() {
                    s.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some((_, _, s)) = stack.last_mut() {
                    let c = match &*r {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "?",
                    };
                    s.push_str(c);
                }
            }
            Event::End(_) => {
                let Some((name, map, text)) = stack.pop() else {
                    return Err("unbalanced".into());
                };
                let v = if map.is_empty() {
                    Value::String(text.trim().to_owned())
                } else {
                    Value::Object(map)
                };
                match stack.last_mut() {
                    Some((_, m, _)) => insert(m, name, v),
                    None => root = Some((name, v)),
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let (root, tree) = root.ok_or("no root element")?;
    Ok(Parsed { root, tree })
}
