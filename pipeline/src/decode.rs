//! Decoding one component's settings from the configuration tree: every unknown key and the
//! first type error reported with its path, then the component's own checks. Shared by the
//! agent (exporters, extensions, service) and every receiver factory, so that all of them
//! report problems the same way.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::{Problems, Validate, join};

/// Puts a setting's original text back where expansion produced a number or a boolean:
/// `(value at path, path, path of the setting) -> whether something was restored`.
pub type RestoreText<'a> = dyn Fn(&mut Value, &str, &str) -> bool + 'a;

/// What decoding needs besides the value: where problems go, and how to give a string
/// setting the text of the variable that expanded to something else.
pub struct Decoder<'a> {
    pub problems: &'a mut Problems,
    restore: &'a RestoreText<'a>,
}

impl<'a> Decoder<'a> {
    pub fn new(problems: &'a mut Problems, restore: &'a RestoreText<'a>) -> Self {
        Self { problems, restore }
    }

    /// Deserializes one component at `path` and runs its checks. A setting that wants a
    /// string where expansion made a number or a boolean gets the variable's text instead,
    /// as in the Collector: `password: ${env:P}` with P=123456 is the password "123456".
    pub fn decode<T: DeserializeOwned + Validate>(
        &mut self,
        value: &Value,
        path: &str,
    ) -> Option<T> {
        let mut value = match value {
            Value::Null => Value::Object(Default::default()),
            v => v.clone(),
        };
        loop {
            let (result, unknown) = deserialize::<T>(value.clone());
            let e = match result {
                Ok(t) => {
                    for u in unknown {
                        self.problems.push(join(path, &u), "unknown key");
                    }
                    t.validate(path, self.problems);
                    return Some(t);
                }
                Err(e) => e,
            };
            let at = e.path().to_string();
            let at = if at == "." {
                path.to_owned()
            } else {
                join(path, &at)
            };
            let message = e.into_inner().to_string();
            // Each pass turns one value back into a string, so the loop ends.
            if message.starts_with("invalid type:") && (self.restore)(&mut value, path, &at) {
                continue;
            }
            for u in unknown {
                self.problems.push(join(path, &u), "unknown key");
            }
            self.problems.push(at, message);
            return None;
        }
    }
}

/// One deserializing pass: the value or the first error, and the unknown keys met.
fn deserialize<T: DeserializeOwned>(
    value: Value,
) -> (
    Result<T, serde_path_to_error::Error<serde_json::Error>>,
    Vec<String>,
) {
    let mut unknown = Vec::new();
    // serde_ignored writes `?` for a step through an Option: not part of the user's path.
    let mut on_unknown = |p: serde_ignored::Path<'_>| {
        let p = p.to_string();
        let p = p
            .split('.')
            .filter(|s| *s != "?")
            .collect::<Vec<_>>()
            .join(".");
        unknown.push(p)
    };
    let de = serde_ignored::Deserializer::new(value, &mut on_unknown);
    let result = serde_path_to_error::deserialize(de);
    (result, unknown)
}
