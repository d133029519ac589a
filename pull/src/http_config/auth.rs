//! Authentication sent with every call: HTTP Basic (a user and a password given inline or
//! in a file) or a bearer token read from a file (a Kubernetes service-account token, say).

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use pipeline::config::{Problems, Secret, Validate, join, resolve_secret};
use reqwest::header::HeaderValue;
use serde::{Deserialize, Serialize};

use super::BuildError;

/// `auth: {basic: {…}}` or `auth: {bearer: {token_file: …}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    Basic(BasicAuth),
    Bearer(BearerAuth),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BasicAuth {
    pub username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// A file holding the password (a Kubernetes secret mount, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BearerAuth {
    /// A file holding the token; read when the client is built.
    pub token_file: PathBuf,
}

impl BasicAuth {
    /// The password from `password` or `password_file` (checked by `validate`).
    pub fn secret(&self) -> Option<Secret> {
        pipeline::config::password(self.password.as_ref(), self.password_file.as_ref())
    }
}

impl Auth {
    /// The `Authorization` header's value, marked sensitive so that it is never logged.
    pub fn header(&self) -> Result<HeaderValue, BuildError> {
        let text = match self {
            Auth::Basic(b) => {
                let password = b.secret().ok_or_else(|| {
                    BuildError::Auth("no password (password or password_file)".into())
                })?;
                let pair = format!("{}:{}", b.username, password.expose());
                format!("Basic {}", STANDARD.encode(pair))
            }
            Auth::Bearer(t) => {
                let token = Secret::from_file(&t.token_file).map_err(|e| {
                    BuildError::Auth(format!("cannot read {}: {e}", t.token_file.display()))
                })?;
                if token.is_empty() {
                    return Err(BuildError::Auth(format!(
                        "{} is empty",
                        t.token_file.display()
                    )));
                }
                format!("Bearer {}", token.expose())
            }
        };
        let mut v = HeaderValue::from_str(&text)
            .map_err(|_| BuildError::Auth("the credentials are not a valid header value".into()))?;
        v.set_sensitive(true);
        Ok(v)
    }
}

impl Validate for Auth {
    fn validate(&self, path: &str, problems: &mut Problems) {
        match self {
            Auth::Basic(b) => {
                let path = join(path, "basic");
                if b.username.trim().is_empty() {
                    problems.push(join(&path, "username"), "required");
                }
                let secret = resolve_secret(
                    b.password.as_ref(),
                    b.password_file.as_ref(),
                    &path,
                    "password",
                    "password_file",
                    problems,
                );
                if secret.is_none() && b.password.is_none() && b.password_file.is_none() {
                    problems.push(path, "set password or password_file");
                }
            }
            Auth::Bearer(t) => match Secret::from_file(&t.token_file) {
                Ok(s) if s.is_empty() => problems.push(
                    join(path, "bearer.token_file"),
                    format!("{} is empty", t.token_file.display()),
                ),
                Ok(_) => {}
                Err(e) => problems.push(
                    join(path, "bearer.token_file"),
                    format!("cannot read {}: {e}", t.token_file.display()),
                ),
            },
        }
    }
}
