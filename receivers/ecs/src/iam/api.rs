//! The IAM Query API of one namespace: `POST /iam?Action=…` with `x-emc-namespace`, in
//! JSON (`{"<Action>Result": …}`) or XML (`<ns2:<Action>Response>` with `<member>` items),
//! list calls followed through `IsTruncated` / `Marker`.

use serde_json::Value;
use tokio::time::Instant;

use super::config::IamFormat;
use crate::client::parse::{boolish, text};
use crate::client::{Call, ClientError, xml};
use crate::cluster::Cluster;

/// List pages read at most, against a marker that never ends.
const MAX_PAGES: usize = 1_000;

pub struct IamApi<'a> {
    pub cl: &'a Cluster,
    pub namespace: &'a str,
    pub format: IamFormat,
    pub page_size: Option<u32>,
    pub deadline: Instant,
}

/// The items of a list field: a JSON array, XML `<member>` children, or nothing.
pub fn members<'v>(v: &'v Value, key: &str) -> Vec<&'v Value> {
    match v.get(key) {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Object(m)) if m.contains_key("member") => match &m["member"] {
            Value::Array(a) => a.iter().collect(),
            one => vec![one],
        },
        Some(o @ Value::Object(_)) => vec![o],
        _ => Vec::new(),
    }
}

impl IamApi<'_> {
    /// One call; the `<Action>Result` element of the answer.
    pub async fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<Value, ClientError> {
        let mut path = format!("/iam?Action={action}");
        for (k, v) in params {
            path.push('&');
            path.push_str(k);
            path.push('=');
            path.push_str(&crate::percent(v));
        }
        let route = format!("/iam?Action={action}");
        let accept = match self.format {
            IamFormat::Json => "application/json",
            IamFormat::Xml => "application/xml",
        };
        let call = Call::post(&route, path)
            .redacted()
            .header("x-emc-namespace", self.namespace)
            .header("Accept", accept)
            .until(self.deadline);
        let v = match self.format {
            IamFormat::Json => self.cl.client.json(call).await?,
            IamFormat::Xml => {
                let a = self.cl.client.call(call).await?;
                let text = String::from_utf8_lossy(&a.body);
                xml::parse(&text)
                    .map(|(_, v)| v)
                    .map_err(|m| ClientError::Malformed {
                        route: route.clone(),
                        message: format!("invalid XML: {m}"),
                    })?
            }
        };
        let key = format!("{action}Result");
        // JSON has no outer `<Action>Response`; be lenient if one comes.
        let inner = v
            .get(&key)
            .or_else(|| v.get(format!("{action}Response")).and_then(|r| r.get(&key)));
        match inner {
            Some(r) => Ok(r.clone()),
            None => Err(ClientError::Malformed {
                route,
                message: format!("no {key} in the answer"),
            }),
        }
    }

    /// Every item of a list action, page by page.
    pub async fn list(
        &self,
        action: &str,
        params: &[(&str, &str)],
        key: &str,
    ) -> Result<Vec<Value>, ClientError> {
        let size = self.page_size.map(|p| p.to_string());
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut p: Vec<(&str, &str)> = params.to_vec();
            if let Some(s) = &size {
                p.push(("MaxItems", s));
            }
            if let Some(m) = &marker {
                p.push(("Marker", m));
            }
            let r = self.call(action, &p).await?;
            out.extend(members(&r, key).into_iter().cloned());
            let next = text(&r["Marker"]).map(str::to_owned);
            match (boolish(&r["IsTruncated"]), next) {
                (Some(true), Some(n)) if Some(&n) != marker.as_ref() => marker = Some(n),
                _ => return Ok(out),
            }
        }
        Err(ClientError::Malformed {
            route: format!("/iam?Action={action}"),
            message: format!("still truncated after {MAX_PAGES} pages"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn members_in_json_and_xml_shapes() {
        let j = json!({"Users": [{"UserName": "a"}, {"UserName": "b"}]});
        assert_eq!(members(&j, "Users").len(), 2);
        let x = json!({"Users": {"member": [{"UserName": "a"}, {"UserName": "b"}]}});
        assert_eq!(members(&x, "Users").len(), 2);
        let one = json!({"Users": {"member": {"UserName": "a"}}});
        assert_eq!(members(&one, "Users").len(), 1);
        let names = json!({"PolicyNames": {"member": "inline-admin"}});
        assert_eq!(members(&names, "PolicyNames"), vec![&json!("inline-admin")]);
        let empty = json!({"Users": ""});
        assert!(members(&empty, "Users").is_empty());
    }
}
