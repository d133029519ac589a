//! Checks a response against the OpenAPI spec's schema: status code, content type, and
//! the value's shape (objects, arrays, scalar types), with the tolerances ECS clients need
//! (numbers as strings and the reverse, nulls, a wrapped root, and for XML: every scalar
//! is text, a single element stands for a list, `<member>` wraps AWS list items).

use serde_json::Value;

pub struct Spec {
    pub doc: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Json,
    Xml,
}

impl Spec {
    pub fn load() -> Spec {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/spec/objectscale-4.1-openapi.json"
        );
        let text = std::fs::read_to_string(path).expect("spec file");
        Spec {
            doc: serde_json::from_str(&text).expect("spec JSON"),
        }
    }

    pub fn paths(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(paths) = self.doc["paths"].as_object() {
            for (p, ops) in paths {
                if let Some(ops) = ops.as_object() {
                    for m in ops.keys() {
                        out.push((p.clone(), m.to_ascii_uppercase()));
                    }
                }
            }
        }
        out
    }

    pub fn operation(&self, path: &str, method: &str) -> &Value {
        &self.doc["paths"][path][method.to_ascii_lowercase()]
    }

    pub fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap_or("");
                self.resolve(&self.doc["components"]["schemas"][name])
            }
            None => schema,
        }
    }

    /// The documented statuses of an operation.
    pub fn statuses(&self, op: &Value) -> Vec<u16> {
        op["responses"]
            .as_object()
            .map(|m| m.keys().filter_map(|k| k.parse().ok()).collect())
            .unwrap_or_default()
    }

    pub fn response_schema<'a>(&'a self, op: &'a Value, status: u16) -> Option<&'a Value> {
        let s = &op["responses"][status.to_string()]["content"]["application/json"]["schema"];
        (!s.is_null()).then(|| self.resolve(s))
    }

    pub fn examples<'a>(&'a self, op: &'a Value, status: u16) -> Vec<&'a Value> {
        op["responses"][status.to_string()]["content"]["application/json"]["examples"]
            .as_object()
            .map(|m| m.values().map(|e| &e["value"]).collect())
            .unwrap_or_default()
    }

    /// Problems of `v` against `schema`, each with its path.
    pub fn check(&self, schema: &Value, v: &Value, at: &str, mode: Mode, out: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if v.is_null() {
            return;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.check(s, v, at, mode, out);
            }
        }
        let ty = schema.get("type").and_then(Value::as_str).unwrap_or("");
        match ty {
            "object" => {
                let obj = match v {
                    Value::Object(m) => m,
                    // An empty XML element reads as an empty string.
                    Value::String(s) if mode == Mode::Xml && s.is_empty() => return,
                    other => {
                        out.push(format!("{at}: expected an object, got {}", short(other)));
                        return;
                    }
                };
                if let Some(req) = schema.get("required").and_then(Value::as_array) {
                    for r in req.iter().filter_map(Value::as_str) {
                        // An empty list writes no element at all in XML.
                        let list = self
                            .resolve(&schema["properties"][r])
                            .get("type")
                            .and_then(Value::as_str)
                            == Some("array");
                        if !(obj.contains_key(r) || mode == Mode::Xml && list) {
                            out.push(format!("{at}: required field {r} missing"));
                        }
                    }
                }
                if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                    for (k, ps) in props {
                        if let Some(x) = obj.get(k) {
                            self.check(ps, x, &format!("{at}.{k}"), mode, out);
                        }
                    }
                }
            }
            "array" => {
                let items = &schema["items"];
                match (v, mode) {
                    (Value::Array(a), _) => {
                        for (i, x) in a.iter().enumerate() {
                            self.check(items, x, &format!("{at}[{i}]"), mode, out);
                        }
                    }
                    // <Users><member>…</member></Users>
                    (Value::Object(m), Mode::Xml) if m.len() == 1 && m.contains_key("member") => {
                        let inner = &m["member"];
                        let list = match inner {
                            Value::Array(a) => a.clone(),
                            x => vec![x.clone()],
                        };
                        for (i, x) in list.iter().enumerate() {
                            self.check(items, x, &format!("{at}[{i}]"), mode, out);
                        }
                    }
                    // One XML element where the JSON has a list of one.
                    (x, Mode::Xml) => self.check(items, x, &format!("{at}[0]"), mode, out),
                    (other, Mode::Json) => {
                        out.push(format!("{at}: expected an array, got {}", short(other)))
                    }
                }
            }
            "integer" | "number" => {
                let ok = match v {
                    Value::Number(n) => ty == "number" || n.is_i64() || n.is_u64(),
                    // The string-or-number tolerance: ECS writes many numbers as strings.
                    Value::String(s) => {
                        if ty == "integer" {
                            s.parse::<i64>().is_ok()
                        } else {
                            s.parse::<f64>().is_ok()
                        }
                    }
                    _ => false,
                };
                if !ok {
                    out.push(format!("{at}: expected {ty}, got {}", short(v)));
                }
            }
            "boolean" => {
                let ok =
                    matches!(v, Value::Bool(_)) || matches!(v.as_str(), Some("true" | "false"));
                if !ok {
                    out.push(format!("{at}: expected boolean, got {}", short(v)));
                }
            }
            "string" if !matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)) => {
                out.push(format!("{at}: expected string, got {}", short(v)));
            }
            _ => {}
        }
    }

    /// The check, also accepting a root wrapped in one extra object
    /// (`{"cluster_capacity": {…}}` for a schema of the inner object).
    pub fn check_root(&self, schema: &Value, v: &Value, mode: Mode) -> Vec<String> {
        let mut out = Vec::new();
        self.check(schema, v, "$", mode, &mut out);
        if !out.is_empty()
            && let Value::Object(m) = v
            && m.len() == 1
        {
            let mut inner = Vec::new();
            self.check(
                schema,
                m.values().next().unwrap_or(&Value::Null),
                "$",
                mode,
                &mut inner,
            );
            if inner.is_empty() {
                return inner;
            }
        }
        out
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}
