//! IAM entities of one namespace: users (human and service accounts, some dormant),
//! access keys with creation and last-use times, groups, roles, managed policies with
//! versioned documents, inline policies, and attachments. Policy documents come from a
//! set of templates that covers the cases an over-privilege analysis must get right.

use super::{K_USER, ModelConfig, ORIGIN};
use crate::ids::{h, iam_id, range};

/// When an identity was last used, as a function of the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// Used every `period` seconds (at `phase` within it): always recently active.
    Recurring {
        period: i64,
        phase: i64,
    },
    /// Last used at a fixed time, then never again: dormant, and more so every day.
    Since(i64),
    Never,
}

impl Usage {
    /// The last use at or before `now`.
    pub fn last(self, now: i64) -> Option<i64> {
        match self {
            Usage::Recurring { period, phase } => {
                let t = now - (now - phase).rem_euclid(period);
                Some(t)
            }
            Usage::Since(t) if t <= now => Some(t),
            Usage::Since(_) | Usage::Never => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    pub active: bool,
    pub created: i64,
    pub last_used: Usage,
    pub service: &'static str,
}

#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub created: i64,
    /// Human users sign in with a password; service accounts only use keys.
    pub service_account: bool,
    pub password_last_used: Usage,
    pub tags: Vec<(String, String)>,
    pub keys: Vec<AccessKey>,
    pub attached: Vec<String>,
    pub inline: Vec<(String, String)>,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub created: i64,
    pub attached: Vec<String>,
    pub inline: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub created: i64,
    pub description: String,
    pub assume_role_policy: String,
    pub max_session: u32,
    pub tags: Vec<(String, String)>,
    pub attached: Vec<String>,
    pub inline: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub created: i64,
    pub updated: i64,
    pub description: String,
    /// (version id, document, created); the last one is the default.
    pub versions: Vec<(String, String, i64)>,
}

impl Policy {
    pub fn default_version(&self) -> &(String, String, i64) {
        // Every policy is generated with at least one version.
        &self.versions[self.versions.len() - 1]
    }
}

#[derive(Debug, Clone, Default)]
pub struct Domain {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub roles: Vec<Role>,
    pub policies: Vec<Policy>,
}

/// Policy document templates: (name, document, over-privileged by the agent's rules).
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "ReadOnlyBucket",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::data/*","arn:aws:s3:::data"]}]}"#,
    ),
    (
        "FullAdmin",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "S3Everything",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
    ),
    (
        "IamEverything",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*"],"Resource":["*"]}]}"#,
    ),
    (
        "S3FromOfficeOnly",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}]}"#,
    ),
    (
        "AllowAllDenyAll",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "AllButIam",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}"#,
    ),
    (
        "ObjectsOnly",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*Object","Resource":"*"}]}"#,
    ),
    (
        "WriteLogs",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/*"}]}"#,
    ),
];

/// Policies every namespace can attach (ECS built-ins).
pub const GLOBAL_POLICIES: &[(&str, &str)] = &[
    (
        "ECSDenyAll",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "ECSS3FullAccess",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    ),
    (
        "ECSS3ReadOnlyAccess",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"}]}"#,
    ),
    (
        "IAMReadOnlyAccess",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"}]}"#,
    ),
];

pub fn global_policy_arn(name: &str) -> String {
    format!("urn:ecs:iam:::policy/{name}")
}

const FIRST: [&str; 8] = ["jane", "omar", "li", "ana", "sven", "priya", "tom", "yuki"];
const LAST: [&str; 8] = [
    "doe", "haddad", "wei", "silva", "berg", "rao", "smith", "sato",
];
const ASSUME_ROLE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["urn:ecs:iam::NS:root"]},"Action":"sts:AssumeRole"}]}"#;

fn secret(seed: u64, parts: &[u64]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x = h(seed, parts);
    (0..40)
        .map(|i| {
            if i % 10 == 0 {
                x = h(x, &[i]);
            }
            let c = ALPHABET[(x % 64) as usize] as char;
            x >>= 6;
            c
        })
        .collect()
}

impl Domain {
    pub fn generate(cfg: &ModelConfig, ns_index: u64, ns: &str) -> Domain {
        let seed = cfg.seed;
        let hh = |parts: &[u64]| {
            let mut p = vec![K_USER, ns_index];
            p.extend_from_slice(parts);
            h(seed, &p)
        };
        let mut d = Domain::default();
        for p in 0..cfg.iam_policies_per_namespace {
            let t = (hh(&[1, p as u64]) as usize) % TEMPLATES.len();
            let (tname, doc) = TEMPLATES[t];
            let name = format!("{tname}-{p}");
            let created = ORIGIN + range(hh(&[2, p as u64]), 0, 100) as i64 * 86_400;
            let mut versions = vec![("v1".to_owned(), doc.to_owned(), created)];
            if hh(&[3, p as u64]) % 3 == 0 {
                // A second, tighter version: the analysis must read the default one.
                versions.insert(
                    0,
                    ("v0".to_owned(), TEMPLATES[1].1.to_owned(), created - 86_400),
                );
                versions[0].0 = "v1".into();
                versions[1].0 = "v2".into();
            }
            d.policies.push(Policy {
                arn: format!("urn:ecs:iam::{ns}:policy/{name}"),
                id: iam_id("ANPA", seed, &[K_USER, ns_index, 4, p as u64]),
                name,
                updated: versions.last().map_or(created, |v| v.2),
                created,
                description: format!("{tname} for {ns}"),
                versions,
            });
        }
        let pick_policies = |x: u64, d: &Domain| -> Vec<String> {
            let mut v = Vec::new();
            if !d.policies.is_empty() && x % 2 == 0 {
                v.push(d.policies[(x >> 4) as usize % d.policies.len()].arn.clone());
            }
            if x % 3 == 0 {
                v.push(global_policy_arn(
                    GLOBAL_POLICIES[(x >> 8) as usize % GLOBAL_POLICIES.len()].0,
                ));
            }
            v
        };
        for g in 0..cfg.iam_groups_per_namespace {
            let x = hh(&[5, g as u64]);
            let name = format!("group-{}", ["finance", "eng", "ops", "audit"][g % 4]);
            let name = if g >= 4 { format!("{name}-{g}") } else { name };
            d.groups.push(Group {
                arn: format!("urn:ecs:iam::{ns}:group/{name}"),
                id: iam_id("AGPA", seed, &[K_USER, ns_index, 5, g as u64]),
                created: ORIGIN + range(x, 0, 200) as i64 * 86_400,
                attached: pick_policies(x >> 1, &d),
                inline: if x % 5 == 0 {
                    vec![("inline-logs".into(), TEMPLATES[8].1.into())]
                } else {
                    vec![]
                },
                name,
            });
        }
        for u in 0..cfg.iam_users_per_namespace {
            let x = hh(&[6, u as u64]);
            let service_account = x % 3 == 0;
            let name = if service_account {
                format!("svc-app{u}")
            } else {
                format!(
                    "{}.{}{}",
                    FIRST[(x >> 4) as usize % 8],
                    LAST[(x >> 8) as usize % 8],
                    u
                )
            };
            let created = ORIGIN + range(x >> 12, 0, 300) as i64 * 86_400;
            let usage = |y: u64| match y % 20 {
                0..=11 => Usage::Recurring {
                    period: range(y >> 5, 1, 5) as i64 * 86_400,
                    phase: range(y >> 9, 0, 86_399) as i64,
                },
                12..=16 => Usage::Since(created + range(y >> 5, 1, 200) as i64 * 86_400),
                _ => Usage::Never,
            };
            let keys = (0..(x >> 20) % 3)
                .map(|k| {
                    let y = hh(&[7, u as u64, k]);
                    AccessKey {
                        id: iam_id("AKIA", seed, &[K_USER, ns_index, 7, u as u64, k]),
                        secret: secret(seed, &[K_USER, ns_index, 8, u as u64, k]),
                        active: y % 6 != 0,
                        created: created + range(y >> 3, 0, 400) as i64 * 86_400,
                        last_used: usage(y >> 12),
                        service: "s3",
                    }
                })
                .collect();
            let mut tags = vec![(
                "type".to_owned(),
                if service_account { "service" } else { "human" }.to_owned(),
            )];
            if x % 4 == 0 {
                tags.push(("Department".into(), "Finance".into()));
            }
            let groups = d
                .groups
                .iter()
                .enumerate()
                .filter(|(gi, _)| (x >> (24 + gi)) & 1 == 1)
                .map(|(_, g)| g.name.clone())
                .collect();
            d.users.push(User {
                arn: format!("urn:ecs:iam::{ns}:user/{name}"),
                id: iam_id("AIDA", seed, &[K_USER, ns_index, 6, u as u64]),
                created,
                service_account,
                password_last_used: if service_account {
                    Usage::Never
                } else {
                    usage(x >> 30)
                },
                tags,
                keys,
                attached: pick_policies(x >> 34, &d),
                inline: if (x >> 40) % 7 == 0 {
                    vec![("inline-admin".into(), TEMPLATES[1].1.into())]
                } else {
                    vec![]
                },
                groups,
                name,
            });
        }
        for r in 0..cfg.iam_roles_per_namespace {
            let x = hh(&[9, r as u64]);
            let name = format!("{}Role{r}", ["Finance", "Backup", "Analytics"][r % 3]);
            d.roles.push(Role {
                arn: format!("urn:ecs:iam::{ns}:role/{name}"),
                id: iam_id("AROA", seed, &[K_USER, ns_index, 9, r as u64]),
                created: ORIGIN + range(x, 0, 300) as i64 * 86_400,
                description: format!("{name} in {ns}"),
                assume_role_policy: ASSUME_ROLE.replace("NS", ns),
                max_session: [3600, 7200, 43_200][(x >> 8) as usize % 3],
                tags: vec![("Department".into(), "Finance".into())],
                attached: pick_policies(x >> 12, &d),
                inline: if (x >> 20) % 4 == 0 {
                    vec![("inline-s3".into(), TEMPLATES[2].1.into())]
                } else {
                    vec![]
                },
                name,
            });
        }
        d
    }

    pub fn policy(&self, arn: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.arn == arn)
    }

    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }

    /// Attachments of a policy (users, groups, roles), by ARN.
    pub fn attachment_count(&self, arn: &str) -> usize {
        self.users
            .iter()
            .filter(|u| u.attached.iter().any(|a| a == arn))
            .count()
            + self
                .groups
                .iter()
                .filter(|g| g.attached.iter().any(|a| a == arn))
                .count()
            + self
                .roles
                .iter()
                .filter(|r| r.attached.iter().any(|a| a == arn))
                .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recurring_use_is_recent_and_fixed_use_ages() {
        let u = Usage::Recurring {
            period: 86_400,
            phase: 100,
        };
        let now = ORIGIN + 500 * 86_400 + 5000;
        let last = u.last(now).unwrap();
        assert!(now - last < 86_400 && last <= now);
        assert_eq!(Usage::Since(ORIGIN).last(now), Some(ORIGIN));
        assert_eq!(Usage::Since(now + 1).last(now), None);
        assert_eq!(Usage::Never.last(now), None);
    }

    #[test]
    fn a_domain_has_every_kind_of_entity() {
        let d = Domain::generate(&ModelConfig::small(), 0, "ns0001");
        assert_eq!(d.users.len(), 6);
        assert_eq!(d.groups.len(), 2);
        assert_eq!(d.roles.len(), 2);
        assert_eq!(d.policies.len(), 3);
        assert!(
            d.users
                .iter()
                .all(|u| u.arn.starts_with("urn:ecs:iam::ns0001:user/"))
        );
        assert!(
            d.users
                .iter()
                .flat_map(|u| &u.keys)
                .all(|k| k.id.starts_with("AKIA") && k.secret.len() == 40)
        );
    }
}
