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
}

impl Doc {
    pub fn jaxb(root: &str, json: Value) -> Doc {
        Doc {
            root: root.to_owned(),
            json,
            style: Style::Jaxb,
            xml: None,
        }
    }

    pub fn aws(root: &str, json: Value) -> Doc {
        Doc {
            root: root.to_owned(),
            json,
            style: Style::AwsQuery,
            xml: None,
        }
    }

    pub fn with_xml(mut self, xml: Value) -> Doc {
        self.xml = Some(xml);
        self
    }

    pub fn encode(&self, format: Format) -> Vec<u8> {
        match format {
            Format::Json => serde_json::to_vec(&self.json).unwrap_or_default(),
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
    Doc {
        root: "ErrorResponse".into(),
        json: serde_json::json!({
            "Error": {"Code": code, "Message": message, "Type": "Sender"},
            "RequestId": request_id,
        }),
        style: Style::AwsQuery,
        xml: None,
    }
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
