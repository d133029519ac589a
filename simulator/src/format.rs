//! Response documents and their two encodings. ECS answers XML by default and JSON on
//! `Accept: application/json` (or a `.json` path suffix). Each handler builds the JSON
//! form exactly as ECS sends it (strings for numbers where ECS sends strings, wrapped or
//! unwrapped roots); the XML form is derived from it with the conventions of the two
//! families of endpoints: JAXB (management API: repeated elements named after the list)
//! and AWS Query (IAM/STS: `<member>` items under a `<ns2:…Response xmlns:ns2="none">`).

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Xml => "application/xml",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `{"node":[a,b]}` under root `nodes` → `<nodes><node>a</node><node>b</node></nodes>`.
    Jaxb,
    /// `{"Users":[a,b]}` → `<Users><member>a</member><member>b</member></Users>`, root
    /// element `ns2:<root>` with `xmlns:ns2="none"`.
    AwsQuery,
}

/// A response body before encoding.
#[derive(Debug, Clone)]
pub struct Doc {
    /// The XML root element (JAXB: e.g. `nodes`; AWS Query: e.g. `ListUsersResponse`).
    pub root: String,
    pub json: Value,
    pub style: Style,
    /// When the XML form is not derivable from the JSON one (ECS unwraps some roots in
    /// JSON only), the value to encode as XML instead.
    pub xml: Option<Value>,
    /// The JSON body already encoded from typed data (large billing answers: building a
    /// `Value` tree per item costs ten times more than serializing structs directly).
    pub raw_json: Option<Vec<u8>>,
}

impl Doc {
    pub fn jaxb(root: &str, json: Value) -> Doc {
        Doc {
            root: root.to_owned(),
            json,
            style: Style::Jaxb,
            xml: None,
            raw_json: None,
        }
    }

    pub fn aws(root: &str, json: Value) -> Doc {
        Doc {
            root: root.to_owned(),
            json,
            style: Style::AwsQuery,
            xml: None,
            raw_json: None,
        }
    }

    /// A JAXB document from typed data: serialized straight to JSON bytes when the
    /// client wants JSON, turned into a tree only for XML.
    pub fn typed<T: serde::Serialize>(root: &str, value: &T, format: Format) -> Doc {
        match format {
            Format::Json => Doc {
                raw_json: Some(serde_json::to_vec(value).unwrap_or_default()),
                ..Doc::jaxb(root, Value::Null)
            },
            Format::Xml => Doc::jaxb(root, serde_json::to_value(value).unwrap_or(Value::Null)),
        }
    }

    /// A list: JSON `{"<root>": [items]}`, XML `<root><item>…</item>…</root>`.
    pub fn typed_list<T: serde::Serialize>(
        root: &str,
        item: &str,
        items: &[T],
        format: Format,
    ) -> Doc {
        match format {
            Format::Json => {
                let mut out = Vec::with_capacity(64 + items.len() * 512);
                out.extend_from_slice(format!("{{\"{root}\":").as_bytes());
                // Serializing plain data into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut out, items);
                out.push(b'}');
                Doc {
                    raw_json: Some(out),
                    ..Doc::jaxb(root, Value::Null)
                }
            }
            Format::Xml => {
                let list = serde_json::to_value(items).unwrap_or(Value::Null);
                let mut m = serde_json::Map::new();
                m.insert(item.to_owned(), list);
                Doc::jaxb(root, Value::Object(m))
            }
        }
    }

    /// Makes `json` the tree to work on, decoding pre-encoded bytes (for fault injection
    /// that edits fields).
    pub fn materialize(&mut self) {
        if let Some(raw) = self.raw_json.take() {
            self.json = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        }
    }

    pub fn with_xml(mut self, xml: Value) -> Doc {
        self.xml = Some(xml);
        self
    }

    pub fn encode(&self, format: Format) -> Vec<u8> {
        match format {
            Format::Json => match &self.raw_json {
                Some(raw) => raw.clone(),
                None => serde_json::to_vec(&self.json).unwrap_or_default(),
            },
            Format::Xml => self.to_xml().into_bytes(),
        }
    }

    pub fn to_xml(&self) -> String {
        let v = self.xml.as_ref().unwrap_or(&self.json);
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>");
        match self.style {
            Style::Jaxb => element(&mut out, &self.root, v, self.style),
            Style::AwsQuery => {
                out.push_str(&format!("<ns2:{} xmlns:ns2=\"none\">", self.root));
                children(&mut out, v, self.style);
                out.push_str(&format!("</ns2:{}>", self.root));
            }
        }
        out
    }
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(escape(s)),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `<name>…</name>` for one value (lists are handled by the caller).
fn element(out: &mut String, name: &str, v: &Value, style: Style) {
    match v {
        Value::Null => {}
        Value::Object(_) => {
            out.push_str(&format!("<{name}>"));
            children(out, v, style);
            out.push_str(&format!("</{name}>"));
        }
        Value::Array(items) => match style {
            Style::Jaxb => {
                for item in items {
                    element(out, name, item, style);
                }
            }
            Style::AwsQuery => {
                out.push_str(&format!("<{name}>"));
                for item in items {
                    element(out, "member", item, style);
                }
                out.push_str(&format!("</{name}>"));
            }
        },
        other => {
            let text = scalar(other).unwrap_or_default();
            out.push_str(&format!("<{name}>{text}</{name}>"));
        }
    }
}

fn children(out: &mut String, v: &Value, style: Style) {
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                element(out, k, item, style);
            }
        }
        other => {
            if let Some(t) = scalar(other) {
                out.push_str(&t);
            }
        }
    }
}

/// An ECS error body: `{"code":…,"retryable":…,"description":…,"details":…}` /
/// `<error>…</error>`.
pub fn ecs_error(code: u32, description: &str, details: &str, retryable: bool) -> Doc {
    Doc::jaxb(
        "error",
        serde_json::json!({
            "code": code,
            "retryable": retryable,
            "description": description,
            "details": details,
        }),
    )
}

/// An AWS-style IAM error.
pub fn iam_error(code: &str, message: &str, request_id: &str) -> Doc {
    Doc::aws(
        "ErrorResponse",
        serde_json::json!({
            "Error": {"Code": code, "Message": message, "Type": "Sender"},
            "RequestId": request_id,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jaxb_lists_repeat_their_element() {
        let d = Doc::jaxb(
            "nodes",
            json!({"node": [{"nodename": "a", "isLocal": true}, {"nodename": "b<"}]}),
        );
        assert_eq!(
            d.to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><nodes><node><nodename>a</nodename><isLocal>true</isLocal></node><node><nodename>b&lt;</nodename></node></nodes>"
        );
    }

    #[test]
    fn aws_query_lists_use_member() {
        let d = Doc::aws(
            "ListUsersResponse",
            json!({"ListUsersResult": {"Users": [{"UserName": "u1"}], "IsTruncated": false}, "ResponseMetadata": {"RequestId": "r"}}),
        );
        let x = d.to_xml();
        assert!(x.contains("<ns2:ListUsersResponse xmlns:ns2=\"none\"><ListUsersResult><Users><member><UserName>u1</UserName></member></Users><IsTruncated>false</IsTruncated></ListUsersResult>"), "{x}");
    }
}
