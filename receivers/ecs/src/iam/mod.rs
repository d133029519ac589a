//! The IAM collector: identities, credentials, policies and their privileges in every
//! namespace (ECS's IAM Query API), management users, and the authentication providers'
//! reachability. Read-only; it never exports secrets, key ids or policy documents.
//!
//! One cycle is one trace: a span per namespace, a client span per call, so a slow tenant
//! shows in Jaeger or Tempo. Namespaces are read four at a time; the client's semaphore
//! keeps the calls in flight at its limit.

pub mod api;
pub mod config;
mod emit;
pub mod policy;
pub mod probe;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use pipeline::timefmt::{parse_minute, secs};
use pipeline::{ReceiverError, ScrapeContext, Snapshot};
use serde_json::Value;
use tokio::time::Instant;
use tracing::Instrument;

use crate::client::parse::{boolish, list, text, uint};
use crate::client::{Call, ClientError};
use crate::cluster::Cluster;
use crate::parts::{self, Parts};
use api::IamApi;
use config::{EntityLabels, IamConfig};
use policy::Grant;

const NAMESPACES_IN_FLIGHT: usize = 4;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn time(v: &Value) -> Option<i64> {
    text(v).and_then(parse_minute)
}

/// One IAM user as the metrics need it: no key id, no secret.
#[derive(Debug, Clone)]
struct UserFacts {
    name: String,
    service: bool,
    created: Option<i64>,
    /// The latest of the password's and the access keys' last use.
    last_activity: Option<i64>,
    /// (status, created) of each access key.
    keys: Vec<(String, Option<i64>)>,
}

/// What one namespace's IAM holds.
#[derive(Debug, Clone, Default)]
struct NamespaceFacts {
    users: Vec<UserFacts>,
    groups: usize,
    roles: usize,
    managed_policies: usize,
    inline_policies: usize,
    /// Managed-policy attachments by entity type.
    attachments: BTreeMap<&'static str, usize>,
    /// Over-privileged (entity type, name, grants).
    over: Vec<(&'static str, String, Vec<Grant>)>,
    /// Policy documents that could not be read or parsed (the entity is judged on the rest).
    unreadable: usize,
}

#[derive(Default)]
struct State {
    /// Each namespace's facts, the failed cycles they were served through, and when
    /// they were read; and the namespaces still to read.
    namespaces: Parts<NamespaceFacts>,
    /// Managed policy documents by (ARN, version, creation date): a version never
    /// changes, and a policy deleted and made again under its name has a new creation
    /// date. With when each was last needed, to forget the ones no longer attached.
    documents: HashMap<(String, String, String), (Value, Instant)>,
}

pub struct Iam {
    cluster: Arc<Cluster>,
    report_client: bool,
    state: Arc<Mutex<State>>,
}

/// An entity's label: its name, a salted hash of it, or nothing.
fn entity_label(cfg: &IamConfig, namespace: &str, name: &str) -> Option<String> {
    match cfg.entity_labels {
        EntityLabels::Name => Some(name.to_owned()),
        EntityLabels::None => None,
        EntityLabels::Hash => {
            let salt = cfg.entity_label_salt.as_ref().map_or("", |s| s.expose());
            let d = ring::digest::digest(
                &ring::digest::SHA256,
                format!("{salt}\u{0}{namespace}\u{0}{name}").as_bytes(),
            );
            Some(d.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect())
        }
    }
}

impl Iam {
    pub fn new(cluster: Arc<Cluster>, report_client: bool) -> Self {
        if cluster.cfg.collectors.iam.monitor_sts_tokens {
            tracing::warn!(cluster = %cluster.name, "collectors.iam.monitor_sts_tokens: no ECS API lists STS sessions, so no STS series can be made (see the metrics reference)");
        }
        Self {
            cluster,
            report_client,
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    /// The namespaces due and not read yet, and since when the oldest of them is due.
    pub fn backlog(&self) -> pipeline::Backlog {
        lock(&self.state).namespaces.backlog()
    }

    async fn namespace_names(&self, deadline: Instant) -> Result<Vec<String>, ClientError> {
        let mut names = Vec::new();
        self.cluster
            .each_namespace(deadline, |n| {
                names.extend(crate::cluster::namespace_name(n).map(str::to_owned))
            })
            .await?;
        let wanted = &self.cluster.cfg.collectors.iam.namespaces;
        if !wanted.is_empty() {
            names.retain(|n| wanted.contains(n));
        }
        Ok(names)
    }

    pub async fn collect(&self, ctx: &ScrapeContext) -> Result<Snapshot, ReceiverError> {
        let cl = &self.cluster;
        let deadline = ctx.deadline;
        let mut warnings = Vec::new();

        // The management users and the provider probes (up to one probe timeout) run
        // beside the namespaces, not before them.
        let ctx_started = Instant::now();
        let cutoff = ctx_started + deadline.saturating_duration_since(ctx_started).mul_f32(0.9);
        let ((mgmt, providers), read) = tokio::join!(
            async { tokio::join!(self.mgmt_users(deadline), self.providers(deadline)) },
            self.read_namespaces((ctx_started, deadline), cutoff, &mut warnings),
        );
        let read = match read {
            Ok(r) => r,
            Err(e) => return Err(self.failure(ctx, e, warnings)),
        };
        let run = tracing::Span::current();
        run.record("ecs.namespaces.read", read.parts.fresh.len() as i64);
        run.record("ecs.namespaces.postponed", read.parts.postponed as i64);
        if read.parts.postponed > 0 {
            warnings.push(format!(
                "{} namespaces not read within this cycle's time ({:?}); their last read is served and they come first next cycle",
                read.parts.postponed,
                cutoff - ctx_started
            ));
        }
        let names = read.names.clone();
        let first_error = self.keep(read, ctx_started, &mut warnings);

        let mut b = cl.builder(ctx.started);
        self.emit_namespaces(&mut b, ctx);
        match mgmt {
            Ok(by_role) => emit::mgmt_users(&mut b, &by_role),
            Err(e) => warnings.push(format!("{e}; management users not counted")),
        }
        match providers {
            Ok(list) => emit::providers(&mut b, &list, &mut warnings),
            Err(e) => warnings.push(format!("{e}; authentication providers not probed")),
        }
        if self.report_client {
            cl.report_client(&mut b);
        }
        let snapshot = Snapshot {
            resource_metrics: vec![b.build()],
            resource_logs: Vec::new(),
            warnings,
        };
        let nothing = lock(&self.state).namespaces.kept.is_empty() && !names.is_empty();
        if let Some(e) = first_error
            && (nothing || e.is_login_refused())
        {
            return Err(e
                .receiver_error(format!("IAM could not be read: {e}"))
                .with_partial(snapshot));
        }
        Ok(snapshot)
    }

    /// Folds a cycle's read into what is kept: fresh namespaces replace, failed ones are
    /// served from their last good read for `keep_last_good_cycles`. The first error, an
    /// authentication error first.
    fn keep(
        &self,
        read: Read,
        ctx_started: Instant,
        warnings: &mut Vec<String>,
    ) -> Option<ClientError> {
        let keep = self.cluster.cfg.keep_last_good_cycles;
        let mut first_error: Option<ClientError> = None;
        let mut st = lock(&self.state);
        if read.parts.postponed == 0 && read.parts.failed.is_empty() {
            // Every namespace was read: documents not needed this cycle are not attached
            // any more (or their policy is gone).
            st.documents.retain(|_, (_, seen)| *seen >= ctx_started);
        }
        st.namespaces.retain_listed(&read.names);
        for (ns, e) in st.namespaces.settle(read.parts, Instant::now()) {
            if e.is_login_refused() {
                first_error = Some(e.clone());
            }
            let served = matches!(
                pull::last_good::fail_in(&mut st.namespaces.kept, &ns, keep),
                Some(pull::last_good::Failed::Served(_))
            );
            warnings.push(format!(
                "namespace {ns}: {e}; {}",
                if served {
                    "its last good read is served"
                } else {
                    "no figures for it"
                }
            ));
            first_error.get_or_insert(e);
        }
        first_error
    }

    fn emit_namespaces(&self, b: &mut pipeline::SnapshotBuilder, ctx: &ScrapeContext) {
        let cfg = &self.cluster.cfg.collectors.iam;
        let ages = emit::Ages {
            now: secs(ctx.started),
            threshold: i64::from(cfg.inactive_threshold_days) * 86_400,
        };
        let st = lock(&self.state);
        for (ns, kept) in &st.namespaces.kept {
            emit::namespace(b, cfg, ns, &kept.value, &ages);
        }
    }

    /// The namespaces, NAMESPACES_IN_FLIGHT at a time, each in its own span, the longest
    /// unread first. IAM has no bulk reads (about 5 calls per user): on a large, slow
    /// cluster a cycle may not read them all. It starts no namespace after `cutoff` (90% of
    /// its time), and a namespace cut off by it is postponed, not failed: its last read is
    /// served and it comes first next cycle.
    async fn read_namespaces(
        &self,
        (started, deadline): (Instant, Instant),
        cutoff: Instant,
        warnings: &mut Vec<String>,
    ) -> Result<Read, ClientError> {
        let cl = &self.cluster;
        let names = match self.namespace_names(deadline).await {
            Ok(n) => n,
            Err(e) if e.is_login_refused() => return Err(e),
            Err(e) => {
                warnings.push(format!("{e}; the last known namespaces are read"));
                lock(&self.state).namespaces.kept.keys().cloned().collect()
            }
        };
        let order = {
            let mut st = lock(&self.state);
            st.namespaces.retain_listed(&names);
            st.namespaces.want(&names, started);
            st.namespaces.due_oldest_first()
        };
        // The name stays the same for every namespace (span names are for grouping; a
        // thousand distinct names would make a thousand operations in Jaeger and Tempo);
        // which namespace is the `ecs.namespace` attribute.
        let span = |ns: &str| {
            tracing::info_span!(
                target: "ecs_otel_agent::iam",
                "iam.namespace",
                otel.name = "iam namespace",
                ecs.namespace = %ns,
            )
        };
        let parts = parts::read(order, NAMESPACES_IN_FLIGHT, cutoff, span, |ns| {
            let (cluster, state) = (cl.clone(), self.state.clone());
            async move { read_namespace(&cluster, &state, &ns, cutoff).await }
        })
        .await;
        Ok(Read { names, parts })
    }

    fn failure(&self, ctx: &ScrapeContext, e: ClientError, warnings: Vec<String>) -> ReceiverError {
        let mut b = self.cluster.builder(ctx.started);
        if self.report_client {
            self.cluster.report_client(&mut b);
        }
        e.receiver_error(e.to_string()).with_partial(Snapshot {
            resource_metrics: vec![b.build()],
            resource_logs: Vec::new(),
            warnings,
        })
    }

    /// Management users by role.
    async fn mgmt_users(
        &self,
        deadline: Instant,
    ) -> Result<BTreeMap<&'static str, u64>, ClientError> {
        let v = self
            .cluster
            .client
            .json(Call::get("/vdc/users", "/vdc/users").until(deadline))
            .await?;
        let mut by_role: BTreeMap<&'static str, u64> = BTreeMap::new();
        for role in ["system_admin", "system_monitor", "security_admin", "none"] {
            by_role.insert(role, 0);
        }
        for u in list(&v, "mgmt_user_info") {
            let flag = |k: &str| boolish(&u[k]) == Some(true);
            let mut any = false;
            for (role, key) in [
                ("system_admin", "isSystemAdmin"),
                ("system_monitor", "isSystemMonitor"),
                ("security_admin", "isSecurityAdmin"),
            ] {
                if flag(key) {
                    *by_role.entry(role).or_insert(0) += 1;
                    any = true;
                }
            }
            if !any {
                *by_role.entry("none").or_insert(0) += 1;
            }
        }
        Ok(by_role)
    }

    /// Every provider with its servers' probes (disabled providers are not probed).
    async fn providers(&self, deadline: Instant) -> Result<Vec<Provider>, ClientError> {
        let cfg = &self.cluster.cfg.collectors.iam;
        let v = self
            .cluster
            .client
            .json(
                Call::get("/vdc/admin/authnproviders", "/vdc/admin/authnproviders").until(deadline),
            )
            .await?;
        let mut out = Vec::new();
        for item in list(&v, "authnprovider") {
            let (Some(id), Some(name)) = (text(&item["id"]), text(&item["name"])) else {
                continue;
            };
            if !cfg.auth_providers.is_empty() && !cfg.auth_providers.iter().any(|p| p == name) {
                continue;
            }
            let d = self
                .cluster
                .client
                .json(
                    Call::get(
                        "/vdc/admin/authnproviders/{id}",
                        format!("/vdc/admin/authnproviders/{}", crate::percent(id)),
                    )
                    .until(deadline),
                )
                .await?;
            let enabled = boolish(&d["disable"]) != Some(true);
            let urls: Vec<String> = match &d["server_urls"] {
                Value::Array(a) => a
                    .iter()
                    .filter_map(|u| u.as_str().map(str::to_owned))
                    .collect(),
                Value::String(s) => vec![s.clone()],
                o @ Value::Object(_) => list(o, "server_url")
                    .iter()
                    .filter_map(|u| u.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            out.push(Provider {
                name: name.to_owned(),
                mode: text(&d["mode"]).unwrap_or("unknown").to_ascii_lowercase(),
                enabled,
                urls,
                probes: Vec::new(),
            });
        }
        let timeout = cfg
            .probe_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        // Every server of every enabled provider at once: one dead server costs the cycle
        // one timeout, not one per server.
        let mut set = tokio::task::JoinSet::new();
        for (pi, p) in out.iter().enumerate().filter(|(_, p)| p.enabled) {
            for (ui, u) in p.urls.iter().enumerate() {
                let u = u.clone();
                set.spawn(
                    async move { (pi, ui, probe::probe(&u, timeout).await) }
                        .instrument(tracing::Span::current()),
                );
            }
        }
        let mut probes = Vec::new();
        while let Some(r) = set.join_next().await {
            if let Ok(x) = r {
                probes.push(x);
            }
        }
        probes.sort_by_key(|(pi, ui, _)| (*pi, *ui));
        for (pi, _, r) in probes {
            out[pi].probes.push(r);
        }
        Ok(out)
    }
}

/// What one cycle read of the namespaces.
struct Read {
    names: Vec<String>,
    parts: parts::Read<NamespaceFacts>,
}

struct Provider {
    name: String,
    mode: String,
    enabled: bool,
    urls: Vec<String>,
    probes: Vec<probe::Probe>,
}

/// The documents of a managed policy's default version, cached by version.
async fn managed_document(
    api: &IamApi<'_>,
    state: &Mutex<State>,
    arn: &str,
    version: &str,
    created: &str,
) -> Result<Value, ClientError> {
    let key = (arn.to_owned(), version.to_owned(), created.to_owned());
    if let Some((d, seen)) = lock(state).documents.get_mut(&key) {
        *seen = Instant::now();
        return Ok(d.clone());
    }
    let r = api
        .call(
            "GetPolicyVersion",
            &[("PolicyArn", arn), ("VersionId", version)],
        )
        .await?;
    let raw = text(&r["PolicyVersion"]["Document"]).unwrap_or("");
    let doc = policy::decode(raw).map_err(|m| ClientError::Malformed {
        route: "/iam?Action=GetPolicyVersion".into(),
        message: format!("{arn} {version}: {m}"),
    })?;
    lock(state)
        .documents
        .insert(key, (doc.clone(), Instant::now()));
    Ok(doc)
}

/// The documents of the policies that apply to one user, group or role directly: its
/// inline policies (read here; counted, and unreadable ones counted, in `f`) and the
/// managed ones `attached` to it. `kind` is the IAM action's word (`User`), `label` the
/// attachment key's (`user`).
async fn entity_documents(
    api: &IamApi<'_>,
    (kind, label): (&str, &'static str),
    name: &str,
    attached: &HashMap<(&'static str, String), Vec<Value>>,
    f: &mut NamespaceFacts,
) -> Result<Vec<Value>, ClientError> {
    let name_param = format!("{kind}Name");
    let names = api
        .list(
            &format!("List{kind}Policies"),
            &[(&name_param, name)],
            "PolicyNames",
        )
        .await?;
    let mut docs = Vec::new();
    for pn in names.iter().filter_map(|v| v.as_str()) {
        let r = api
            .call(
                &format!("Get{kind}Policy"),
                &[(&name_param, name), ("PolicyName", pn)],
            )
            .await?;
        match text(&r["PolicyDocument"]).map(policy::decode) {
            Some(Ok(d)) => docs.push(d),
            _ => f.unreadable += 1,
        }
    }
    f.inline_policies += docs.len();
    docs.extend(
        attached
            .get(&(label, name.to_owned()))
            .cloned()
            .unwrap_or_default(),
    );
    Ok(docs)
}

/// Managed-policy documents by the (entity type, name) they are attached to.
type Attached = HashMap<(&'static str, String), Vec<Value>>;

/// What the users' verdicts need besides their own policies.
struct Entities {
    attached: Attached,
    /// Each group's documents (inline and attached).
    group_docs: HashMap<String, Vec<Value>>,
    /// The groups of each user.
    members_of: HashMap<String, Vec<String>>,
}

async fn read_namespace(
    cl: &Cluster,
    state: &Mutex<State>,
    ns: &str,
    deadline: Instant,
) -> Result<NamespaceFacts, ClientError> {
    let cfg = &cl.cfg.collectors.iam;
    let api = IamApi {
        cl,
        namespace: ns,
        format: cfg.format,
        page_size: cfg.page_size,
        deadline,
    };
    let mut f = NamespaceFacts::default();
    let users = api.list("ListUsers", &[], "Users").await?;
    let groups = api.list("ListGroups", &[], "Groups").await?;
    let roles = api.list("ListRoles", &[], "Roles").await?;
    let policies = api
        .list("ListPolicies", &[("Scope", "All")], "Policies")
        .await?;
    f.groups = groups.len();
    f.roles = roles.len();
    f.managed_policies = policies
        .iter()
        .filter(|p| text(&p["Arn"]).is_some_and(|a| !a.contains(":::policy/")))
        .count();
    let attached = attachments(&api, state, &policies, &mut f).await?;
    let entities = read_groups(&api, &groups, attached, &mut f).await?;
    read_roles(&api, &roles, &entities.attached, &mut f).await?;
    for u in &users {
        if let Some(user) = read_user(&api, cfg, u, &entities, &mut f).await? {
            f.users.push(user);
        }
    }
    Ok(f)
}

/// Managed attachments: who each attached policy is attached to, and its document.
async fn attachments(
    api: &IamApi<'_>,
    state: &Mutex<State>,
    policies: &[Value],
    f: &mut NamespaceFacts,
) -> Result<Attached, ClientError> {
    let mut attached = Attached::new();
    for p in policies {
        if uint(&p["AttachmentCount"]).unwrap_or(1) == 0 {
            continue;
        }
        let Some(arn) = text(&p["Arn"]) else { continue };
        let r = api
            .call("ListEntitiesForPolicy", &[("PolicyArn", arn)])
            .await?;
        let doc = match text(&p["DefaultVersionId"]) {
            Some(v) => {
                match managed_document(api, state, arn, v, text(&p["CreateDate"]).unwrap_or(""))
                    .await
                {
                    Ok(d) => Some(d),
                    Err(e) if e.kind() == "malformed" => {
                        f.unreadable += 1;
                        None
                    }
                    Err(e) => return Err(e),
                }
            }
            None => {
                f.unreadable += 1;
                None
            }
        };
        for (kind, key, name_key) in [
            ("user", "PolicyUsers", "UserName"),
            ("group", "PolicyGroups", "GroupName"),
            ("role", "PolicyRoles", "RoleName"),
        ] {
            for e in api::members(&r, key) {
                let Some(n) = text(&e[name_key]) else {
                    continue;
                };
                *f.attachments.entry(kind).or_insert(0) += 1;
                let docs = attached.entry((kind, n.to_owned())).or_default();
                if let Some(d) = &doc {
                    docs.push(d.clone());
                }
            }
        }
    }
    Ok(attached)
}

/// Groups: members and inline policies.
async fn read_groups(
    api: &IamApi<'_>,
    groups: &[Value],
    attached: Attached,
    f: &mut NamespaceFacts,
) -> Result<Entities, ClientError> {
    let mut group_docs: HashMap<String, Vec<Value>> = HashMap::new();
    let mut members_of: HashMap<String, Vec<String>> = HashMap::new();
    for g in groups {
        let Some(name) = text(&g["GroupName"]) else {
            continue;
        };
        for u in api
            .list("GetGroup", &[("GroupName", name)], "Users")
            .await?
        {
            if let Some(un) = text(&u["UserName"]) {
                members_of
                    .entry(un.to_owned())
                    .or_default()
                    .push(name.to_owned());
            }
        }
        let docs = entity_documents(api, ("Group", "group"), name, &attached, f).await?;
        group_docs.insert(name.to_owned(), docs);
    }
    Ok(Entities {
        attached,
        group_docs,
        members_of,
    })
}

/// Roles: inline policies, then the verdict.
async fn read_roles(
    api: &IamApi<'_>,
    roles: &[Value],
    attached: &Attached,
    f: &mut NamespaceFacts,
) -> Result<(), ClientError> {
    for r in roles {
        let Some(name) = text(&r["RoleName"]) else {
            continue;
        };
        let docs = entity_documents(api, ("Role", "role"), name, attached, f).await?;
        let grants = policy::over_privilege(&docs);
        if !grants.is_empty() {
            f.over.push(("role", name.to_owned(), grants));
        }
    }
    Ok(())
}

/// A user: keys and their last use, inline policies, tags if the rule needs them.
async fn read_user(
    api: &IamApi<'_>,
    cfg: &IamConfig,
    u: &Value,
    entities: &Entities,
    f: &mut NamespaceFacts,
) -> Result<Option<UserFacts>, ClientError> {
    let Some(name) = text(&u["UserName"]) else {
        return Ok(None);
    };
    let mut last = time(&u["PasswordLastUsed"]);
    let mut keys = Vec::new();
    for k in api
        .list("ListAccessKeys", &[("UserName", name)], "AccessKeyMetadata")
        .await?
    {
        let status = text(&k["Status"]).unwrap_or("unknown").to_ascii_lowercase();
        keys.push((status, time(&k["CreateDate"])));
        if let Some(id) = text(&k["AccessKeyId"]) {
            let r = api
                .call("GetAccessKeyLastUsed", &[("AccessKeyId", id)])
                .await?;
            if let Some(t) = time(&r["AccessKeyLastUsed"]["LastUsedDate"]) {
                last = last.max(Some(t));
            }
        }
    }
    let mut docs = entity_documents(api, ("User", "user"), name, &entities.attached, f).await?;
    for g in entities.members_of.get(name).into_iter().flatten() {
        docs.extend(entities.group_docs.get(g).cloned().unwrap_or_default());
    }
    let grants = policy::over_privilege(&docs);
    if !grants.is_empty() {
        f.over.push(("user", name.to_owned(), grants));
    }
    let mut service = cfg.service_accounts.by_name(name);
    if let (false, Some((k, v))) = (service, cfg.service_accounts.tag_pair()) {
        let tags = api
            .list("ListUserTags", &[("UserName", name)], "Tags")
            .await?;
        service = tags
            .iter()
            .any(|t| text(&t["Key"]) == Some(k) && text(&t["Value"]) == Some(v));
    }
    Ok(Some(UserFacts {
        name: name.to_owned(),
        service,
        created: time(&u["CreateDate"]),
        last_activity: last,
        keys,
    }))
}
