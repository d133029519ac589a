//! The ECS receiver's metric catalog (dashboard and node-stats collectors, and the
//! client's own figures). docs/metrics.md is generated from it.
//!
//! Every metric is declared once, with its instrument, unit, attribute keys, source and
//! description: `typed_metric!` makes it a typed constant whose `record` takes one value
//! per declared key, so a collector cannot emit an attribute the catalog does not list.

use pipeline::catalog::{Catalog, Instrument, Renamed, Unavailable, entry};
use pipeline::{MetricDesc, typed_metric};

use Instrument::{Counter, Gauge, Histogram};

use crate::audit::catalog as audit;
use crate::performance::catalog as perf;

const LZ: &str = "/dashboard/zones/localzone";
const RGS: &str = "/dashboard/zones/localzone/replicationgroups";
const IAM_SRC: &str = "POST /iam?Action=ListUsers";
const IAM_KEYS_SRC: &str = "ListUsers (PasswordLastUsed), GetAccessKeyLastUsed";
const IAM_POLICY_SRC: &str =
    "GetPolicyVersion, Get{User,Group,Role}Policy, ListEntitiesForPolicy, GetGroup";
const BILL_INFO: &str = "POST /object/billing/namespace/info";
const BILL_SAMPLE: &str = "POST /object/billing/namespace/sample (month to date)";

// Cluster (local VDC): /dashboard/zones/localzone, /vdc/nodes, /object/capacity, /vdc/alerts.
typed_metric!(
    VERSION_INFO,
    Gauge,
    "emcecs.version.info",
    "",
    ["version", "nodes"],
    "/vdc/nodes",
    "Always 1; the ECS version and node count are in the attributes"
);
typed_metric!(
    NODES,
    Gauge,
    "emcecs.nodes",
    "{node}",
    ["state"],
    LZ,
    "Nodes of the local VDC by state"
);
typed_metric!(
    DISKS,
    Gauge,
    "emcecs.disks",
    "{disk}",
    ["state"],
    LZ,
    "Disks of the local VDC by state"
);
typed_metric!(
    CAPACITY_TOTAL,
    Gauge,
    "emcecs.capacity.total",
    "By",
    [],
    LZ,
    "Raw capacity of the local VDC"
);
typed_metric!(
    CAPACITY_FREE,
    Gauge,
    "emcecs.capacity.free",
    "By",
    [],
    LZ,
    "Free capacity"
);
typed_metric!(
    CAPACITY_ALLOCATED,
    Gauge,
    "emcecs.capacity.allocated",
    "By",
    [],
    LZ,
    "Allocated capacity"
);
typed_metric!(
    CAPACITY_RESERVED,
    Gauge,
    "emcecs.capacity.reserved",
    "By",
    [],
    LZ,
    "Capacity reserved by the system"
);
typed_metric!(
    CAPACITY_OFFLINE,
    Gauge,
    "emcecs.capacity.offline",
    "By",
    [],
    LZ,
    "Capacity on disks or nodes that are offline"
);
typed_metric!(
    CAPACITY_USED,
    Gauge,
    "emcecs.capacity.used",
    "By",
    ["type"],
    LZ,
    "Allocated capacity by what it holds (user data, local protection, system metadata, geo copies, geo cache)"
);
typed_metric!(
    CAPACITY_ALLOCATED_RATIO,
    Gauge,
    "emcecs.capacity.allocated.ratio",
    "1",
    [],
    LZ,
    "Allocated fraction of the raw capacity"
);
typed_metric!(
    OBJECT_PROVISIONED,
    Gauge,
    "emcecs.object.capacity.provisioned",
    "By",
    [],
    "/object/capacity",
    "Provisioned object capacity (/object/capacity, reported in GB)"
);
typed_metric!(
    OBJECT_AVAILABLE,
    Gauge,
    "emcecs.object.capacity.available",
    "By",
    [],
    "/object/capacity",
    "Available object capacity (/object/capacity, reported in GB)"
);
typed_metric!(
    EFFICIENCY,
    Gauge,
    "emcecs.storage.user_data.ratio",
    "1",
    [],
    LZ,
    "User data divided by allocated capacity: the share of what is stored that is user data (the rest is protection and system data)"
);
typed_metric!(
    PROTECTION_OVERHEAD,
    Gauge,
    "emcecs.storage.protection.overhead.ratio",
    "1",
    [],
    LZ,
    "User data plus local protection, divided by user data (1.33 for erasure coding 12+4)"
);
typed_metric!(
    EC_INFO,
    Gauge,
    "emcecs.erasure_coding.info",
    "",
    ["scheme"],
    LZ,
    "Always 1; the erasure-coding scheme derived from the protection overhead is in the attributes"
);
typed_metric!(
    EC_CODED,
    Gauge,
    "emcecs.erasure_coding.coded.ratio",
    "1",
    [],
    LZ,
    "Fraction of the data already erasure-coded"
);
typed_metric!(
    EC_RATE,
    Gauge,
    "emcecs.erasure_coding.rate",
    "By/s",
    [],
    LZ,
    "Erasure-coding throughput"
);
typed_metric!(
    GC_PENDING,
    Gauge,
    "emcecs.gc.pending",
    "By",
    ["type"],
    LZ,
    "Garbage waiting for collection, by type"
);
typed_metric!(
    GC_RECLAIMED,
    Gauge,
    "emcecs.gc.reclaimed",
    "By",
    ["type"],
    LZ,
    "Garbage reclaimed so far, by type"
);
typed_metric!(
    GC_UNRECLAIMABLE,
    Gauge,
    "emcecs.gc.unreclaimable",
    "By",
    [],
    LZ,
    "User garbage that cannot be reclaimed"
);
typed_metric!(
    RECOVERY_RATE,
    Gauge,
    "emcecs.recovery.rate",
    "By/s",
    [],
    LZ,
    "Data recovery throughput"
);
typed_metric!(
    RECOVERY_PENDING,
    Gauge,
    "emcecs.recovery.pending",
    "By",
    [],
    LZ,
    "Bad chunks waiting to be recovered"
);
typed_metric!(
    RECOVERY_REMAINING,
    Gauge,
    "emcecs.recovery.remaining",
    "s",
    [],
    LZ,
    "Estimated time until recovery completes"
);
typed_metric!(
    CHUNKS,
    Gauge,
    "emcecs.chunks",
    "{chunk}",
    ["type"],
    LZ,
    "Chunks by type (repository, XOR, geo copy)"
);
typed_metric!(
    CHUNKS_SIZE,
    Gauge,
    "emcecs.chunks.size",
    "By",
    ["type"],
    LZ,
    "Size of the chunks by type"
);
typed_metric!(
    ALERTS,
    Gauge,
    "emcecs.alerts.unacknowledged",
    "{alert}",
    ["severity", "type"],
    "/vdc/alerts",
    "Unacknowledged alerts by severity and type"
);
// Storage pools, nodes, disks: /dashboard/zones/localzone/{storagepools,nodes,disks}.
typed_metric!(
    POOL_CAPACITY,
    Gauge,
    "emcecs.storage_pool.capacity",
    "By",
    ["storage_pool", "storage_pool_id", "state"],
    "/dashboard/zones/localzone/storagepools",
    "Capacity of a storage pool by state (total, free, allocated)"
);
typed_metric!(
    POOL_NODES,
    Gauge,
    "emcecs.storage_pool.nodes",
    "{node}",
    ["storage_pool", "storage_pool_id", "state"],
    "/dashboard/zones/localzone/storagepools",
    "Nodes of a storage pool by state"
);
typed_metric!(
    NODE_HEALTHY,
    Gauge,
    "emcecs.node.healthy",
    "",
    ["node", "node_id"],
    "/dashboard/zones/localzone/nodes",
    "1 when the dashboard reports the node Good"
);
typed_metric!(
    NODE_DISKS,
    Gauge,
    "emcecs.node.disks",
    "{disk}",
    ["node", "node_id", "state"],
    "/dashboard/zones/localzone/nodes",
    "Disks of a node by state"
);
typed_metric!(
    NODE_CAPACITY,
    Gauge,
    "emcecs.node.capacity",
    "By",
    ["node", "node_id", "state"],
    "/dashboard/zones/localzone/nodes",
    "Capacity of a node by state (total, free, allocated)"
);
typed_metric!(
    DISK_HEALTHY,
    Gauge,
    "emcecs.disk.healthy",
    "",
    ["node", "disk", "slot", "storage_pool"],
    "/dashboard/zones/localzone/disks",
    "1 when the dashboard reports the disk Good"
);
typed_metric!(
    DISK_CAPACITY,
    Gauge,
    "emcecs.disk.capacity",
    "By",
    ["node", "disk", "slot", "state"],
    "/dashboard/zones/localzone/disks",
    "Capacity of a disk by state (total, allocated)"
);
// Replication: /dashboard/zones/localzone/replicationgroups, .../rglinksFailed.
typed_metric!(
    REPL_INGRESS,
    Gauge,
    "emcecs.replication.ingress",
    "By/s",
    ["replication_group", "replication_group_id"],
    "/dashboard/zones/localzone/replicationgroups",
    "Replication traffic into the local VDC, per replication group"
);
typed_metric!(
    REPL_EGRESS,
    Gauge,
    "emcecs.replication.egress",
    "By/s",
    ["replication_group", "replication_group_id"],
    "/dashboard/zones/localzone/replicationgroups",
    "Replication traffic out of the local VDC, per replication group"
);
typed_metric!(
    REPL_PENDING,
    Gauge,
    "emcecs.replication.pending",
    "By",
    ["replication_group", "replication_group_id", "type"],
    "/dashboard/zones/localzone/replicationgroups",
    "Data waiting to be replicated (repository, journal) or XOR-ed, per replication group"
);
typed_metric!(
    REPL_LAG,
    Gauge,
    "emcecs.replication.lag",
    "s",
    ["replication_group", "replication_group_id"],
    "/dashboard/zones/localzone/replicationgroups",
    "Recovery point: now minus the replication group's replicationRpoTimestamp"
);
typed_metric!(
    REPL_LINKS_FAILED,
    Gauge,
    "emcecs.replication.links.failed",
    "{link}",
    ["replication_group"],
    "/dashboard/zones/localzone/rglinksFailed",
    "Failed replication group links"
);
// ECS 3.5 and earlier only (removed from the dashboard in 3.6).
typed_metric!(
    TX_LATENCY,
    Gauge,
    "emcecs.transaction.latency",
    "s",
    ["operation"],
    LZ,
    "S3/Swift transaction latency by operation (ECS 3.5 and earlier)"
);
typed_metric!(
    TX_RATE,
    Gauge,
    "emcecs.transaction.rate",
    "{transaction}/s",
    ["operation"],
    LZ,
    "Transactions per second by operation (ECS 3.5 and earlier)"
);
typed_metric!(
    TX_BANDWIDTH,
    Gauge,
    "emcecs.transaction.bandwidth",
    "By/s",
    ["operation"],
    "/dashboard/zones/localzone (ECS 3.5); Flux monitoring_vdc cq_performance_throughput (3.6+, performance collector)",
    "Transaction bandwidth by operation (read, write)"
);
typed_metric!(
    TX_TOTAL,
    Counter,
    "emcecs.transactions",
    "{transaction}",
    ["result"],
    LZ,
    "Transactions since the cluster's counters started, by result (ECS 3.5 and earlier)"
);
typed_metric!(
    TX_ERRORS,
    Counter,
    "emcecs.transaction.errors",
    "{transaction}",
    ["code", "protocol", "category"],
    LZ,
    "Failed transactions by error code, protocol and category (ECS 3.5 and earlier)"
);
// Buckets' settings: /object/namespaces, /object/bucket (refreshed every bucket_config_interval).
typed_metric!(
    NAMESPACES,
    Gauge,
    "emcecs.namespaces",
    "{namespace}",
    [],
    "/object/namespaces",
    "Namespaces"
);
typed_metric!(
    BUCKETS,
    Gauge,
    "emcecs.buckets",
    "{bucket}",
    ["namespace"],
    "/object/bucket",
    "Buckets per namespace"
);
typed_metric!(
    BUCKET_LOCK,
    Gauge,
    "emcecs.bucket.object_lock.enabled",
    "",
    ["namespace", "bucket"],
    "/object/bucket",
    "1 when object lock is enabled on the bucket (ECS 3.6 and later)"
);
typed_metric!(
    BUCKET_LOCK_RETENTION,
    Gauge,
    "emcecs.bucket.object_lock.default_retention",
    "s",
    ["namespace", "bucket", "mode"],
    "/object/bucket",
    "Default object-lock retention of the bucket, by mode (GOVERNANCE, COMPLIANCE)"
);
typed_metric!(
    BUCKET_RETENTION,
    Gauge,
    "emcecs.bucket.retention",
    "s",
    ["namespace", "bucket"],
    "/object/bucket",
    "Default retention period of the bucket"
);
typed_metric!(
    BUCKET_VERSIONING,
    Gauge,
    "emcecs.bucket.versioning.enabled",
    "",
    ["namespace", "bucket"],
    "/object/bucket",
    "1 when versioning is enabled on the bucket (0 suspended or never enabled; ObjectScale 4.x only)"
);
typed_metric!(
    BUCKET_LOCKED,
    Gauge,
    "emcecs.bucket.locked",
    "",
    ["namespace", "bucket"],
    "/object/bucket",
    "1 when the bucket is locked by an administrator"
);
// Node stats: port 9101 /stats/dt/DTInitStat, the S3 port's ?ping, /dashboard/nodes/{id} on ObjectScale.
typed_metric!(
    NODE_DT,
    Gauge,
    "emcecs.node.dt.tables",
    "{table}",
    ["node", "node_ip", "state"],
    "http://<node>:9101/stats/dt/DTInitStat",
    "Directory tables of the node by state (total, unready, unknown); ECS only"
);
typed_metric!(
    NODE_DT_READY,
    Gauge,
    "emcecs.node.dt.ready.ratio",
    "1",
    ["node", "node_ip"],
    "http://<node>:9101/stats/dt/DTInitStat",
    "Fraction of the node's directory tables that are ready; ECS only"
);
typed_metric!(
    NODE_LOAD,
    Gauge,
    "emcecs.node.load_factor",
    "{connection}",
    ["node", "node_ip"],
    "http://<node>:9020/?ping",
    "Active S3 connections of the node (?ping LOAD_FACTOR)"
);
typed_metric!(
    NODE_MAINTENANCE,
    Gauge,
    "emcecs.node.maintenance_mode",
    "",
    ["node", "node_ip"],
    "http://<node>:9020/?ping",
    "1 when the node is in maintenance mode (?ping)"
);
typed_metric!(
    NODE_UP,
    Gauge,
    "emcecs.node.stats.up",
    "",
    ["node", "node_ip"],
    "9101, or /dashboard/nodes/{id} on ObjectScale",
    "1 when the node answered this cycle's stats call (9101 on ECS, /dashboard/nodes/{id} on ObjectScale)"
);
/// The client's own figures: `ecs_otel_agent.ecs.requests` and the like.
pub const CLIENT: pull::ClientMetrics<'static> = pull::client_metrics!(
    "ecs",
    requests: "Management and node calls by endpoint and status (or timeout, error)",
    duration: "Duration of management and node calls by endpoint",
    logins: "Logins by outcome (success, invalid_credentials, token_limit, error)",
    circuit: "1 while the endpoint's circuit breaker refuses calls",
);
pub const CLIENT_REQUESTS: MetricDesc<'static> = CLIENT.requests;
pub const CLIENT_DURATION: MetricDesc<'static> = CLIENT.duration;
pub const CLIENT_LOGINS: MetricDesc<'static> = CLIENT.logins;
pub const CLIENT_CIRCUIT: MetricDesc<'static> = CLIENT.circuit;

// Billing: /object/billing (bulk, with bucket detail), /object/namespaces, /vdc/data-service/vpools.
typed_metric!(
    BILL_BUCKET_STORAGE,
    Gauge,
    "emcecs.bucket.storage",
    "By",
    ["namespace", "bucket", "replication_group"] + "tag_<key in snake case>",
    BILL_INFO,
    "Bytes the bucket holds (billing total_size)"
);
typed_metric!(
    BILL_BUCKET_OBJECTS,
    Gauge,
    "emcecs.bucket.objects",
    "{object}",
    ["namespace", "bucket", "replication_group"] + "tag_<key in snake case>",
    BILL_INFO,
    "Objects in the bucket"
);
typed_metric!(
    BILL_BUCKET_MPU_SIZE,
    Gauge,
    "emcecs.bucket.multipart_upload.size",
    "By",
    ["namespace", "bucket", "replication_group"] + "tag_<key in snake case>",
    BILL_INFO,
    "Bytes in unfinished multipart uploads (total_mpu_size)"
);
typed_metric!(
    BILL_BUCKET_MPU_PARTS,
    Gauge,
    "emcecs.bucket.multipart_upload.parts",
    "{part}",
    ["namespace", "bucket", "replication_group"] + "tag_<key in snake case>",
    BILL_INFO,
    "Parts of unfinished multipart uploads"
);
typed_metric!(
    BILL_BUCKET_INGRESS,
    Counter,
    "emcecs.bucket.ingress",
    "By",
    ["namespace", "bucket", "replication_group"] + "tag_<key in snake case>",
    BILL_SAMPLE,
    "Bytes written to the bucket this calendar month (UTC); restarts each month"
);
typed_metric!(
    BILL_BUCKET_EGRESS,
    Counter,
    "emcecs.bucket.egress",
    "By",
    ["namespace", "bucket", "replication_group"] + "tag_<key in snake case>",
    BILL_SAMPLE,
    "Bytes read from the bucket this calendar month (UTC); restarts each month"
);
typed_metric!(
    BILL_BUCKET_CREATED,
    Counter,
    "emcecs.bucket.objects.created",
    "{object}",
    ["namespace", "bucket", "replication_group"] + "tag_<key in snake case>",
    BILL_SAMPLE,
    "Objects created in the bucket this calendar month (UTC)"
);
typed_metric!(
    BILL_BUCKET_DELETED,
    Counter,
    "emcecs.bucket.objects.deleted",
    "{object}",
    ["namespace", "bucket", "replication_group"] + "tag_<key in snake case>",
    BILL_SAMPLE,
    "Objects deleted from the bucket this calendar month (UTC)"
);
typed_metric!(
    BILL_BUCKET_STORAGE_COST,
    Gauge,
    "emcecs.bucket.storage.cost.usd",
    "{USD}",
    ["namespace", "bucket", "replication_group"] + "tag_<key in snake case>",
    "billing info and the cost model",
    "Monthly storage cost at the bucket's current size: bytes / 1024³ × the price per GB-month of its replication group (pricing.storage); the name ends with pricing.currency"
);
typed_metric!(
    BILL_BUCKET_TREND,
    Gauge,
    "emcecs.bucket.cost.trend",
    "%",
    ["namespace", "bucket", "replication_group"] + "tag_<key in snake case>",
    "billing sample over trend_window",
    "Change of the bucket's storage cost over trend_window (default 24 h): bytes_delta / (size − bytes_delta) × 100, from the sample API; only for buckets with a storage price"
);
typed_metric!(
    BILL_NS_BYTES,
    Gauge,
    "emcecs.namespace.total_bytes",
    "By",
    ["namespace"],
    BILL_INFO,
    "Bytes the namespace holds (billing total_size)"
);
typed_metric!(
    BILL_NS_OBJECTS,
    Gauge,
    "emcecs.namespace.total_objects",
    "{object}",
    ["namespace"],
    BILL_INFO,
    "Objects in the namespace"
);
typed_metric!(
    BILL_NS_MPU_SIZE,
    Gauge,
    "emcecs.namespace.multipart_upload.size",
    "By",
    ["namespace"],
    BILL_INFO,
    "Bytes in unfinished multipart uploads of the namespace"
);
typed_metric!(
    BILL_NS_INGRESS,
    Counter,
    "emcecs.namespace.ingress",
    "By",
    ["namespace"],
    BILL_SAMPLE,
    "Bytes written to the namespace this calendar month (UTC); restarts each month"
);
typed_metric!(
    BILL_NS_EGRESS,
    Counter,
    "emcecs.namespace.egress",
    "By",
    ["namespace"],
    BILL_SAMPLE,
    "Bytes read from the namespace this calendar month (UTC); restarts each month"
);
typed_metric!(
    BILL_NS_QUOTA,
    Gauge,
    "emcecs.namespace.quota",
    "By",
    ["namespace", "type"],
    "/object/namespaces (blockSize, notificationSize; GB)",
    "The namespace's quota: block (writes refused above it) and notification (alert above it); absent when not set"
);
typed_metric!(
    BILL_NS_QUOTA_USED,
    Gauge,
    "emcecs.namespace.quota.used",
    "1",
    ["namespace"],
    "/object/namespaces and billing info",
    "Fraction of the block quota in use (total bytes / block quota)"
);
typed_metric!(
    BILL_NS_STORAGE_COST,
    Gauge,
    "emcecs.namespace.storage.cost.usd",
    "{USD}",
    ["namespace"],
    "billing info and the cost model",
    "Monthly storage cost of the namespace: the sum of its buckets' storage costs"
);
typed_metric!(
    BILL_NS_BANDWIDTH_COST,
    Gauge,
    "emcecs.namespace.bandwidth.cost.usd",
    "{USD}",
    ["namespace", "direction"],
    "month-to-date billing sample and the cost model",
    "Cost of this calendar month's traffic so far, by direction: the month-to-date volume priced tier by tier (pricing.egress, pricing.ingress)"
);
typed_metric!(
    BILL_NS_TREND,
    Gauge,
    "emcecs.namespace.cost.trend",
    "%",
    ["namespace"],
    "billing sample over trend_window",
    "Change of the namespace's storage cost over trend_window: (cost now − cost then) / cost then × 100, bucket by bucket"
);
typed_metric!(
    BILL_UPTODATE,
    Gauge,
    "emcecs.billing.uptodate_timestamp",
    "s",
    ["namespace"],
    BILL_INFO,
    "uptodate_till of the namespace's billing data: ECS's metering is consistent up to this time (it lags by about 15 minutes); the billing points carry it as their time"
);
typed_metric!(
    BILL_FOLDED,
    Gauge,
    "ecs_otel_agent.ecs.billing.buckets.folded",
    "{bucket}",
    [],
    "collectors.billing.max_buckets",
    "Buckets beyond collectors.billing.max_buckets, summed into bucket=\"__other__\" of their namespace"
);

// IAM: POST /iam?Action=… per namespace, /vdc/users, /vdc/admin/authnproviders.
typed_metric!(
    IAM_USERS,
    Gauge,
    "emcecs.iam.users",
    "{user}",
    ["namespace", "user_type"],
    IAM_SRC,
    "IAM users by type (service accounts by collectors.iam.service_accounts; the rest human). A gauge: not emcecs_iam_users_total, a suffix Prometheus keeps for counters"
);
typed_metric!(
    IAM_USERS_ACTIVE,
    Gauge,
    "emcecs.iam.users.active",
    "{user}",
    ["namespace", "user_type"],
    IAM_KEYS_SRC,
    "IAM users whose password or access keys were used within inactive_threshold_days (90)"
);
typed_metric!(
    IAM_USER_INACTIVE,
    Gauge,
    "emcecs.iam.users.inactive",
    "d",
    ["namespace", "user", "user_type", "activity"],
    IAM_KEYS_SRC,
    "Days since the user's last activity (password or access key use; since creation when never used, activity=\"never\"), only for users past inactive_threshold_days"
);
typed_metric!(
    IAM_CREDENTIAL_AGE,
    Gauge,
    "emcecs.iam.credential.age",
    "d",
    ["namespace", "user", "credential_type", "status"],
    "ListAccessKeys",
    "Age in days of the user's oldest access key of each status (the key id is never a label)"
);
typed_metric!(
    IAM_ACCESS_KEYS,
    Gauge,
    "emcecs.iam.access_keys",
    "{key}",
    ["namespace", "status"],
    "ListAccessKeys",
    "Access keys by status"
);
typed_metric!(
    IAM_GROUPS,
    Gauge,
    "emcecs.iam.groups",
    "{group}",
    ["namespace"],
    "ListGroups",
    "IAM groups"
);
typed_metric!(
    IAM_ROLES,
    Gauge,
    "emcecs.iam.roles",
    "{role}",
    ["namespace"],
    "ListRoles",
    "IAM roles"
);
typed_metric!(
    IAM_POLICIES,
    Gauge,
    "emcecs.iam.policies",
    "{policy}",
    ["namespace", "policy_type"],
    "ListPolicies, List{User,Group,Role}Policies",
    "Policies of the namespace: managed (its own, not ECS's built-ins) and inline (on users, groups and roles)"
);
typed_metric!(
    IAM_ATTACHMENTS,
    Gauge,
    "emcecs.iam.policy.attachments",
    "{attachment}",
    ["namespace", "attached_to"],
    "ListEntitiesForPolicy",
    "Managed-policy attachments by entity type (built-ins included)"
);
typed_metric!(
    IAM_OVERPRIV,
    Gauge,
    "emcecs.iam.overprivileged.entities",
    "{entity}",
    ["namespace", "entity_type"],
    IAM_POLICY_SRC,
    "Users and roles whose effective policies grant *, iam:* or s3:* on every resource without a condition and without a Deny taking it back (docs/SECURITY.md)"
);
typed_metric!(
    IAM_OVERPRIV_ENTITY,
    Gauge,
    "emcecs.iam.overprivileged.entity",
    "",
    ["namespace", "entity_type", "entity", "grants"],
    IAM_POLICY_SRC,
    "1 for each over-privileged user or role, with what it is granted (grants: *, iam:*, s3:*)"
);
typed_metric!(
    IAM_UNREADABLE,
    Gauge,
    "emcecs.iam.policy_documents.unreadable",
    "{document}",
    ["namespace"],
    IAM_POLICY_SRC,
    "Policy documents that could not be read or parsed: the entities holding them are judged on the rest"
);
typed_metric!(
    MGMT_USERS,
    Gauge,
    "emcecs.management.users",
    "{user}",
    ["role"],
    "/vdc/users",
    "Management users (/vdc/users) by role; a user with several roles counts in each"
);
typed_metric!(
    AUTH_ENABLED,
    Gauge,
    "emcecs.auth_provider.enabled",
    "",
    ["provider", "mode"],
    "/vdc/admin/authnproviders/{id}",
    "1 when the authentication provider is configured and not disabled"
);
typed_metric!(
    AUTH_AVAILABLE,
    Gauge,
    "emcecs.auth_provider.available",
    "",
    ["provider", "mode", "server"],
    "probe of server_urls",
    "1 when the provider's server answered the probe (TCP connect; for ldap:// also an anonymous RootDSE search, no bind) within probe_timeout"
);
typed_metric!(
    AUTH_RESPONSE,
    Gauge,
    "emcecs.auth_provider.response_time",
    "s",
    ["provider", "mode", "server"],
    "probe of server_urls",
    "Time the provider's server took to answer the probe"
);

pub const CATALOG: Catalog = Catalog {
    receiver: "ecs",
    description: "ECS / ObjectScale system state, from the management API (dashboard collector) and each node's stats ports (node_stats collector). \
A dashboard cycle makes 9 management calls (localzone, its nodes, disks, storage pools, replication groups and failed links, /vdc/nodes, /object/capacity, /vdc/alerts) \
plus one more per 1,000 unacknowledged alerts beyond the first 1,000; every bucket_config_interval it also reads /object/namespaces (one call per 1,000 namespaces) \
and one /object/bucket page (1,000 buckets) per namespace. A node_stats cycle makes one /vdc/nodes call, then per node one 9101 call (ECS) or one /dashboard/nodes/{id} call \
(ObjectScale) and one ?ping call; if it runs before the dashboard collector ever has, it first reads /dashboard/zones/localzone once for the VDC's name and id. \
A billing cycle (off unless collectors.billing.enabled) reads /object/namespaces (one call per 1,000 namespaces), /vdc/data-service/vpools once an hour, then one POST /object/billing/namespace/info per batch_size namespaces (100), \
and when samples are due two POST /object/billing/namespace/sample per batch (month to date, trend window); each namespace whose bucket detail spans more pages (ECS pages it at 100 buckets) costs one GET per extra page and per read; \
when /object/namespaces lists namespaces without their quotas (older releases list only id, name and link), one GET /object/namespaces/namespace/{ns}/quota per namespace read. \
Sizes are read in KB × 1024 (exact); traffic counters restart each calendar month (UTC) and are recomputed from the month's start at every read, so an agent restart neither loses nor doubles anything. \
An IAM cycle (off unless collectors.iam.enabled) reads /object/namespaces, /vdc/users, /vdc/admin/authnproviders and each provider, then per namespace ListUsers, ListGroups, ListRoles, ListPolicies (one call per page of page_size), \
ListEntitiesForPolicy per attached policy, GetPolicyVersion per managed policy version not seen before (cached), GetGroup and ListGroupPolicies per group, ListRolePolicies per role, ListAccessKeys and ListUserPolicies per user, \
GetAccessKeyLastUsed per key, Get*Policy per inline policy (and ListUserTags per user when the service-account rule uses a tag). \
A performance cycle (off unless collectors.performance.enabled; ECS 3.6+ and ObjectScale) makes one POST /flux/api/external/v2/query per measurement: 15, 13 with max_namespaces: 0, 4 fewer with nodes: false; if it runs before any other collector, it first reads /dashboard/zones/localzone once. \
An audit cycle (off unless collectors.audit.enabled) reads /object/namespaces (one call per 1,000 namespaces; none when namespaces are listed), then per namespace one GET /vdc/events per page_size events of its window, and one GET /vdc/alerts per 1,000 alerts of the window. \
Every series also carries job (service.name), instance (the cluster), and target_info holds ecs.cluster.name, ecs.vdc.name, ecs.vdc.id.",
    metrics: &[
        VERSION_INFO.entry,
        NODES.entry,
        DISKS.entry,
        CAPACITY_TOTAL.entry,
        CAPACITY_FREE.entry,
        CAPACITY_ALLOCATED.entry,
        CAPACITY_RESERVED.entry,
        CAPACITY_OFFLINE.entry,
        CAPACITY_USED.entry,
        CAPACITY_ALLOCATED_RATIO.entry,
        OBJECT_PROVISIONED.entry,
        OBJECT_AVAILABLE.entry,
        EFFICIENCY.entry,
        PROTECTION_OVERHEAD.entry,
        EC_INFO.entry,
        EC_CODED.entry,
        EC_RATE.entry,
        GC_PENDING.entry,
        GC_RECLAIMED.entry,
        GC_UNRECLAIMABLE.entry,
        RECOVERY_RATE.entry,
        RECOVERY_PENDING.entry,
        RECOVERY_REMAINING.entry,
        CHUNKS.entry,
        CHUNKS_SIZE.entry,
        ALERTS.entry,
        POOL_CAPACITY.entry,
        POOL_NODES.entry,
        NODE_HEALTHY.entry,
        NODE_DISKS.entry,
        NODE_CAPACITY.entry,
        DISK_HEALTHY.entry,
        DISK_CAPACITY.entry,
        REPL_INGRESS.entry,
        REPL_EGRESS.entry,
        REPL_PENDING.entry,
        REPL_LAG.entry,
        REPL_LINKS_FAILED.entry,
        TX_LATENCY.entry,
        TX_RATE.entry,
        TX_BANDWIDTH.entry,
        TX_TOTAL.entry,
        TX_ERRORS.entry,
        NAMESPACES.entry,
        BUCKETS.entry,
        BUCKET_LOCK.entry,
        BUCKET_LOCK_RETENTION.entry,
        BUCKET_RETENTION.entry,
        BUCKET_VERSIONING.entry,
        BUCKET_LOCKED.entry,
        BILL_BUCKET_STORAGE.entry,
        BILL_BUCKET_OBJECTS.entry,
        BILL_BUCKET_MPU_SIZE.entry,
        BILL_BUCKET_MPU_PARTS.entry,
        BILL_BUCKET_INGRESS.entry,
        BILL_BUCKET_EGRESS.entry,
        BILL_BUCKET_CREATED.entry,
        BILL_BUCKET_DELETED.entry,
        BILL_BUCKET_STORAGE_COST.entry,
        BILL_BUCKET_TREND.entry,
        BILL_NS_BYTES.entry,
        BILL_NS_OBJECTS.entry,
        BILL_NS_MPU_SIZE.entry,
        BILL_NS_INGRESS.entry,
        BILL_NS_EGRESS.entry,
        BILL_NS_QUOTA.entry,
        BILL_NS_QUOTA_USED.entry,
        BILL_NS_STORAGE_COST.entry,
        BILL_NS_BANDWIDTH_COST.entry,
        BILL_NS_TREND.entry,
        BILL_UPTODATE.entry,
        BILL_FOLDED.entry,
        IAM_USERS.entry,
        IAM_USERS_ACTIVE.entry,
        IAM_USER_INACTIVE.entry,
        IAM_CREDENTIAL_AGE.entry,
        IAM_ACCESS_KEYS.entry,
        IAM_GROUPS.entry,
        IAM_ROLES.entry,
        IAM_POLICIES.entry,
        IAM_ATTACHMENTS.entry,
        IAM_OVERPRIV.entry,
        IAM_OVERPRIV_ENTITY.entry,
        IAM_UNREADABLE.entry,
        MGMT_USERS.entry,
        AUTH_ENABLED.entry,
        AUTH_AVAILABLE.entry,
        AUTH_RESPONSE.entry,
        NODE_DT.entry,
        NODE_DT_READY.entry,
        NODE_LOAD.entry,
        NODE_MAINTENANCE.entry,
        NODE_UP.entry,
        entry(
            CLIENT_REQUESTS,
            Counter,
            &["endpoint", "status"],
            "the agent's ECS client",
        ),
        entry(
            CLIENT_DURATION,
            Histogram,
            &["endpoint"],
            "the agent's ECS client",
        ),
        entry(
            CLIENT_LOGINS,
            Counter,
            &["outcome"],
            "the agent's ECS client",
        ),
        entry(
            CLIENT_CIRCUIT,
            Gauge,
            &["endpoint"],
            "the agent's ECS client",
        ),
        perf::REQUEST_RATE.entry,
        perf::HEAD_REQUEST_RATE.entry,
        perf::METHOD_REQUEST_RATE.entry,
        perf::NAMESPACE_REQUEST_RATE.entry,
        perf::ERROR_RATE.entry,
        perf::NAMESPACE_ERROR_RATE.entry,
        perf::ERROR_CODE_RATE.entry,
        perf::LATENCY.entry,
        perf::DISK_BANDWIDTH.entry,
        perf::NODE_CPU.entry,
        perf::NODE_MEMORY_USED.entry,
        perf::NODE_MEMORY_TOTAL.entry,
        perf::NODE_NETWORK_IO.entry,
        perf::RECOVERY_DATA.entry,
        perf::REBALANCING_DATA.entry,
        perf::GAP.entry,
        audit::EVENTS.entry,
        audit::PRIVILEGED.entry,
        audit::ALERTS_RAISED.entry,
        audit::LAG.entry,
        audit::GAP.entry,
    ],
    unavailable: &[
        Unavailable {
            name: "emcecs_storage_efficiency_ratio",
            reason: "A logical ÷ physical ratio needs compression or deduplication figures, which ECS does not report; user data ÷ allocated capacity is `emcecs_storage_user_data_ratio`.",
        },
        Unavailable {
            name: "emcecs_storage_compression_ratio",
            reason: "ECS's APIs do not report compression.",
        },
        Unavailable {
            name: "emcecs_storage_deduplication_ratio",
            reason: "ECS does not deduplicate and reports no such figure.",
        },
        Unavailable {
            name: "emcecs_storage_effective_capacity_bytes",
            reason: "Needs the compression and deduplication ratios, which ECS does not report.",
        },
        Unavailable {
            name: "emcecs_bucket_locked_objects_total",
            reason: "Needs per-object lock state; ECS exposes object lock only as bucket settings (see emcecs_bucket_object_lock_*).",
        },
        Unavailable {
            name: "emcecs_bucket_lock_remaining_days",
            reason: "Needs each object's retain-until date; only the bucket's default retention is exposed (emcecs_bucket_object_lock_default_retention_seconds).",
        },
        Unavailable {
            name: "emcecs_bucket_compliance_violations_total",
            reason: "No ECS API reports refused deletions; they would come from access logs.",
        },
        Unavailable {
            name: "emcecs_replication_throughput_bytes_per_sec{source_vdc,target_vdc}",
            reason: "ECS reports replication traffic per replication group, not per VDC pair: see emcecs_replication_ingress/egress_bytes_per_second.",
        },
        Unavailable {
            name: "emcecs_replication_queue_depth (objects)",
            reason: "ECS reports pending replication in bytes, not objects: see emcecs_replication_pending_bytes.",
        },
        Unavailable {
            name: "emcecs_replication_failed_objects_total",
            reason: "No ECS API counts failed object replications.",
        },
        Unavailable {
            name: "emcecs_bucket_api_operations_total{operation}",
            reason: "ECS's billing API reports no request counts (ObjectScale's /object/mt perf API has ingress/egress counts, not read yet); objects created/deleted per month are emitted instead.",
        },
        Unavailable {
            name: "emcecs_bucket_operation_cost_usd",
            reason: "Needs per-operation request counts (above); pricing.requests is accepted but cannot be applied.",
        },
        Unavailable {
            name: "emcecs_namespace_egress_bytes_total{destination}",
            reason: "ECS meters egress per bucket without telling internet from internal traffic; egress is emitted without a destination.",
        },
        Unavailable {
            name: "emcecs_bucket_cost_sample_usd{timestamp}",
            reason: "A timestamp label would make a new series per sample: emcecs_bucket_storage_cost_usd carries the billing data's time (uptodate_till) as its point time instead.",
        },
        Unavailable {
            name: "emcecs_auth_provider_failures_total, emcecs_auth_provider_users_count",
            reason: "ECS reports neither authentication failures nor users per provider; they would come from the access-log receiver (a later issue).",
        },
        Unavailable {
            name: "emcecs_sts_tokens_active, emcecs_sts_tokens_issued_total, emcecs_sts_token_remaining_seconds, emcecs_sts_token_duration_seconds",
            reason: "ECS's STS API issues tokens but lists none: no API reports active or issued sessions (monitor_sts_tokens is accepted and does nothing). From the access-log receiver, later.",
        },
        Unavailable {
            name: "emcecs_namespace_access_requests_total, emcecs_namespace_cross_tenant_requests_total, emcecs_namespace_access_denied_by_reason",
            reason: "Authorization decisions are only in ECS's access logs; from the access-log receiver, later.",
        },
        Unavailable {
            name: "emcecs_iam_credential_age_days{credential_type=\"password\"}",
            reason: "The IAM API reports when a password was last used, not when it was set.",
        },
        Unavailable {
            name: "emcecs_node_dt_tables on ObjectScale 4.x",
            reason: "ObjectScale 4.1 no longer serves port 9101.",
        },
        Unavailable {
            name: "emcecs_transaction_latency_seconds, emcecs_transaction_rate_per_second, emcecs_transactions_total, emcecs_transaction_errors_total on ECS 3.6+",
            reason: "Removed from the dashboard API in ECS 3.6. The Flux API reports other figures: percentiles instead of an average latency (emcecs_transaction_latency_quantile_seconds), request rates by result, head, method and namespace instead of read/write rates and counters (emcecs_*_request_rate_per_second), error rates by category and code (emcecs_*_error_rate_per_second); emcecs_transaction_bandwidth_bytes_per_second keeps its name (performance collector).",
        },
        Unavailable {
            name: "emcecs_chunk_rebuild_operations_total, emcecs_chunk_rebuild_duration_seconds",
            reason: "ECS reports recovery as bytes pending, a rate and an estimate of the time left (emcecs_recovery_pending_bytes, emcecs_recovery_rate_bytes_per_second, emcecs_recovery_remaining_seconds), not as counted rebuild operations with durations.",
        },
        Unavailable {
            name: "emcecs_s3_multipart_uploads_active, emcecs_s3_multipart_uploads_abandoned_total, emcecs_s3_multipart_upload_duration_seconds",
            reason: "The management API reports the bytes and parts of unfinished uploads per bucket (emcecs_bucket_multipart_upload_size_bytes, emcecs_bucket_multipart_upload_parts), not how many there are, how old, or which were abandoned; that needs the S3 API's ListMultipartUploads per bucket, with data-plane credentials.",
        },
    ],
    renamed: RENAMED,
};

/// The compatibility names (`compatibility_names: true`), for the reference.
pub const COMPAT_CATALOG: Catalog = Catalog {
    receiver: "ecs (compatibility_names: true)",
    description: "The names of paychex/prometheus-emcecs-exporter, emitted besides the ones above when `compatibility_names` is on, so that existing dashboards keep working. \
Two of that exporter's bugs are not copied: the alert figures are gauges (it exposed them as counters), and replication is read per replication group (it read the wrong JSON level). \
Like the originals they have no unit suffix and camelCase node names, which promtool's lint reports.",
    metrics: &[
        compat::GOOD_NODES.entry,
        compat::BAD_NODES.entry,
        compat::GOOD_DISKS.entry,
        compat::BAD_DISKS.entry,
        compat::SPACE_FREE.entry,
        compat::SPACE_TOTAL.entry,
        compat::ALERTS_CRITICAL.entry,
        compat::ALERTS_ERROR.entry,
        compat::ALERTS_INFO.entry,
        compat::ALERTS_WARNING.entry,
        compat::TX_SUCCESS.entry,
        compat::TX_ERROR.entry,
        compat::TX_ERROR_DETAIL.entry,
        compat::TX_READ_LATENCY.entry,
        compat::TX_WRITE_LATENCY.entry,
        compat::TX_READ_TPS.entry,
        compat::TX_WRITE_TPS.entry,
        compat::TX_READ_BW.entry,
        compat::TX_WRITE_BW.entry,
        compat::REPL_INGRESS.entry,
        compat::REPL_EGRESS.entry,
        compat::REPL_DATA_PENDING.entry,
        compat::REPL_JOURNAL_PENDING.entry,
        compat::REPL_XOR_PENDING.entry,
        compat::REPL_LAST.entry,
        compat::VERSION.entry,
        compat::DT_TOTAL.entry,
        compat::DT_UNREADY.entry,
        compat::DT_UNKNOWN.entry,
        compat::ACTIVE_CONNECTIONS.entry,
        compat::METERING_QUOTA.entry,
        compat::METERING_OBJECTS.entry,
    ],
    unavailable: &[],
    renamed: &[],
};

/// Pages of a marker/limit listing of `items` at 1,000 per page (an empty list is one call).
fn pages(items: u64) -> u64 {
    items.div_ceil(1000).max(1)
}

/// Management calls of one dashboard cycle, as the catalog's description states them.
/// `bucket_refresh` holds the number of buckets of each namespace when the cycle also
/// refreshes the bucket settings (every `bucket_config_interval`).
pub fn dashboard_calls(unacked_alerts: u64, bucket_refresh: Option<&[u64]>) -> u64 {
    let base = 8 + pages(unacked_alerts);
    match bucket_refresh {
        Some(per_ns) => {
            base + pages(per_ns.len() as u64) + per_ns.iter().map(|b| pages(*b)).sum::<u64>()
        }
        None => base,
    }
}

/// Calls of one node-stats cycle: `/vdc/nodes`, then per node its stats call (9101 or
/// `/dashboard/nodes/{id}`) and, unless `ping_port` is 0, its `?ping`.
pub fn node_stats_calls(nodes: u64, ping: bool) -> u64 {
    1 + nodes * (1 + u64::from(ping))
}

/// Names users ask for that the agent emits under other names.
const RENAMED: &[Renamed] = &[
    Renamed {
        asked: "emcecs_data_protection_overhead_ratio",
        emitted: &["emcecs_storage_protection_overhead_ratio"],
        note: "the same figure (user data plus local protection, divided by user data), under the storage family",
    },
    Renamed {
        asked: "emcecs_erasure_coding_scheme",
        emitted: &["emcecs_erasure_coding_info"],
        note: "always 1, the scheme (12+4, 10+2) in its `scheme` attribute, as Prometheus info metrics carry text; derived from the protection overhead",
    },
    Renamed {
        asked: "emcecs_s3_multipart_incomplete_bytes",
        emitted: &[
            "emcecs_bucket_multipart_upload_size_bytes",
            "emcecs_namespace_multipart_upload_size_bytes",
        ],
        note: "bytes of unfinished multipart uploads, per bucket and per namespace, from billing",
    },
    Renamed {
        asked: "emcecs_iam_users_total",
        emitted: &["emcecs_iam_users"],
        note: "a gauge (a count now, not a running total), so without `_total`",
    },
    Renamed {
        asked: "emcecs_iam_users_active_total",
        emitted: &["emcecs_iam_users_active"],
        note: "a gauge, so without `_total`",
    },
    Renamed {
        asked: "emcecs_iam_roles_total",
        emitted: &["emcecs_iam_roles"],
        note: "a gauge, so without `_total`",
    },
    Renamed {
        asked: "emcecs_iam_policies_total",
        emitted: &["emcecs_iam_policies"],
        note: "a gauge, so without `_total`",
    },
    Renamed {
        asked: "emcecs_iam_policy_attachments_total",
        emitted: &["emcecs_iam_policy_attachments"],
        note: "a gauge, so without `_total`",
    },
    Renamed {
        asked: "emcecs_replication_throughput_bytes_per_sec",
        emitted: &[
            "emcecs_replication_egress_bytes_per_second",
            "emcecs_replication_ingress_bytes_per_second",
        ],
        note: "per replication group and direction, as ECS reports it (not per VDC pair)",
    },
];

/// Management calls of one billing cycle: `listed` namespaces on the cluster, `read` of
/// them in `batch_size` batches, `extra_pages` bucket-detail pages beyond each namespace's
/// first, the samples read this cycle or not, the replication-group names refreshed or not.
/// A release whose namespace list carries no quotas adds one quota call per namespace read.
pub fn billing_calls(
    listed: u64,
    read: u64,
    batch_size: u64,
    extra_pages: u64,
    samples: bool,
    vpools: bool,
) -> u64 {
    let reads = if samples { 3 } else { 1 };
    pages(listed) + u64::from(vpools) + reads * (read.div_ceil(batch_size.max(1)) + extra_pages)
}

/// The paychex/prometheus-emcecs-exporter names, exposed with `compatibility_names`.
pub mod compat {
    use super::{BILL_INFO, LZ, RGS};
    use pipeline::typed_metric;

    typed_metric!(
        METERING_QUOTA,
        Gauge,
        "emcecs_metering_namespacequota",
        "",
        ["ecsnamespace", "type"],
        "/object/namespaces, billing info",
        "Namespace quota and use in KB (1024 bytes), type block, notification or used (paychex name; billing collector)",
        off
    );
    typed_metric!(
        METERING_OBJECTS,
        Gauge,
        "emcecs_metering_namespace_object_count",
        "",
        ["ecsnamespace"],
        BILL_INFO,
        "Objects in the namespace (paychex name; billing collector)",
        off
    );
    typed_metric!(
        GOOD_NODES,
        Gauge,
        "emcecs_cluster_good_nodes",
        "",
        ["vdc"],
        LZ,
        "Good nodes (paychex name)",
        off
    );
    typed_metric!(
        BAD_NODES,
        Gauge,
        "emcecs_cluster_bad_nodes",
        "",
        ["vdc"],
        LZ,
        "Bad nodes (paychex name)",
        off
    );
    typed_metric!(
        GOOD_DISKS,
        Gauge,
        "emcecs_cluster_good_disks",
        "",
        ["vdc"],
        LZ,
        "Good disks (paychex name)",
        off
    );
    typed_metric!(
        BAD_DISKS,
        Gauge,
        "emcecs_cluster_bad_disks",
        "",
        ["vdc"],
        LZ,
        "Bad disks (paychex name)",
        off
    );
    typed_metric!(
        SPACE_FREE,
        Gauge,
        "emcecs_cluster_space_free",
        "",
        ["vdc"],
        LZ,
        "Free space in bytes (paychex name)",
        off
    );
    typed_metric!(
        SPACE_TOTAL,
        Gauge,
        "emcecs_cluster_space_total",
        "",
        ["vdc"],
        LZ,
        "Total space in bytes (paychex name)",
        off
    );
    typed_metric!(
        ALERTS_CRITICAL,
        Gauge,
        "emcecs_cluster_alerts_critical",
        "",
        ["vdc"],
        "/vdc/alerts",
        "Unacknowledged critical alerts (paychex name; a gauge, not a counter)",
        off
    );
    typed_metric!(
        ALERTS_ERROR,
        Gauge,
        "emcecs_cluster_alerts_error",
        "",
        ["vdc"],
        "/vdc/alerts",
        "Unacknowledged error alerts (paychex name; a gauge)",
        off
    );
    typed_metric!(
        ALERTS_INFO,
        Gauge,
        "emcecs_cluster_alerts_info",
        "",
        ["vdc"],
        "/vdc/alerts",
        "Unacknowledged info alerts (paychex name; a gauge)",
        off
    );
    typed_metric!(
        ALERTS_WARNING,
        Gauge,
        "emcecs_cluster_alerts_warning",
        "",
        ["vdc"],
        "/vdc/alerts",
        "Unacknowledged warning alerts (paychex name; a gauge)",
        off
    );
    typed_metric!(
        TX_SUCCESS,
        Gauge,
        "emcecs_cluster_transaction_success",
        "",
        ["vdc"],
        LZ,
        "Successful transactions (paychex name; ECS 3.5)",
        off
    );
    typed_metric!(
        TX_ERROR,
        Gauge,
        "emcecs_cluster_transaction_error",
        "",
        ["vdc"],
        LZ,
        "Failed transactions (paychex name; ECS 3.5)",
        off
    );
    typed_metric!(
        TX_ERROR_DETAIL,
        Gauge,
        "emcecs_cluster_transaction_error_detail",
        "",
        ["vdc", "errorcode", "errorproto", "category"],
        LZ,
        "Failed transactions by code (paychex name; ECS 3.5)",
        off
    );
    typed_metric!(
        TX_READ_LATENCY,
        Gauge,
        "emcecs_cluster_transaction_read_latency",
        "",
        ["vdc"],
        LZ,
        "Read latency in ms (paychex name; ECS 3.5)",
        off
    );
    typed_metric!(
        TX_WRITE_LATENCY,
        Gauge,
        "emcecs_cluster_transaction_write_latency",
        "",
        ["vdc"],
        LZ,
        "Write latency in ms (paychex name; ECS 3.5)",
        off
    );
    typed_metric!(
        TX_READ_TPS,
        Gauge,
        "emcecs_cluster_transaction_read_per_second",
        "",
        ["vdc"],
        LZ,
        "Reads per second (paychex name; ECS 3.5)",
        off
    );
    typed_metric!(
        TX_WRITE_TPS,
        Gauge,
        "emcecs_cluster_transaction_write_per_second",
        "",
        ["vdc"],
        LZ,
        "Writes per second (paychex name; ECS 3.5)",
        off
    );
    typed_metric!(
        TX_READ_BW,
        Gauge,
        "emcecs_cluster_transaction_read_bandwidth",
        "",
        ["vdc"],
        LZ,
        "Read bandwidth (paychex name; ECS 3.5)",
        off
    );
    typed_metric!(
        TX_WRITE_BW,
        Gauge,
        "emcecs_cluster_transaction_write_bandwidth",
        "",
        ["vdc"],
        LZ,
        "Write bandwidth (paychex name; ECS 3.5)",
        off
    );
    typed_metric!(
        REPL_INGRESS,
        Gauge,
        "emcecs_cluster_replication_ingress_traffic",
        "",
        ["node"],
        RGS,
        "Replication ingress (paychex name; label node holds the RG)",
        off
    );
    typed_metric!(
        REPL_EGRESS,
        Gauge,
        "emcecs_cluster_replication_egress_traffic",
        "",
        ["node"],
        RGS,
        "Replication egress (paychex name; label node holds the RG)",
        off
    );
    typed_metric!(
        REPL_DATA_PENDING,
        Gauge,
        "emcecs_cluster_data_replication_pending",
        "",
        ["node"],
        RGS,
        "Data pending replication (paychex name)",
        off
    );
    typed_metric!(
        REPL_JOURNAL_PENDING,
        Gauge,
        "emcecs_cluster_journal_replication_pending",
        "",
        ["node"],
        RGS,
        "Journal pending replication (paychex name)",
        off
    );
    typed_metric!(
        REPL_XOR_PENDING,
        Gauge,
        "emcecs_cluster_chunks_pending_xor",
        "",
        ["node"],
        RGS,
        "Chunks pending XOR (paychex name)",
        off
    );
    typed_metric!(
        REPL_LAST,
        Gauge,
        "emcecs_cluster_last_replication_timestamp",
        "",
        ["node"],
        RGS,
        "replicationRpoTimestamp (paychex name)",
        off
    );
    typed_metric!(
        VERSION,
        Gauge,
        "emcecs_cluster_version",
        "",
        ["version", "nodecount"],
        "/vdc/nodes",
        "Always 1; version and node count in labels (paychex name)",
        off
    );
    typed_metric!(
        DT_TOTAL,
        Gauge,
        "emcecs_node_dtTotal",
        "",
        ["node"],
        "http://<node>:9101/stats/dt/DTInitStat",
        "Directory tables (paychex name)",
        off
    );
    typed_metric!(
        DT_UNREADY,
        Gauge,
        "emcecs_node_dtUnready",
        "",
        ["node"],
        "http://<node>:9101/stats/dt/DTInitStat",
        "Unready directory tables (paychex name)",
        off
    );
    typed_metric!(
        DT_UNKNOWN,
        Gauge,
        "emcecs_node_dtUnknown",
        "",
        ["node"],
        "http://<node>:9101/stats/dt/DTInitStat",
        "Unknown directory tables (paychex name)",
        off
    );
    typed_metric!(
        ACTIVE_CONNECTIONS,
        Gauge,
        "emcecs_node_activeConnections",
        "",
        ["node"],
        "http://<node>:9020/?ping",
        "Load factor (paychex name)",
        off
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stated costs, worked out by hand from the description above.
    #[test]
    fn the_stated_cycle_costs() {
        // Nine reads, the alerts on one page.
        assert_eq!(dashboard_calls(0, None), 9);
        assert_eq!(dashboard_calls(1000, None), 9);
        assert_eq!(dashboard_calls(1001, None), 10);
        // Bucket settings: one namespaces page, then 1, 1 and 2 bucket pages.
        assert_eq!(dashboard_calls(8, Some(&[4, 0, 1001])), 9 + 1 + (1 + 1 + 2));
        // 1,000 namespaces take one page; 1,001 take two.
        assert_eq!(dashboard_calls(0, Some(&[1; 1001])), 9 + 2 + 1001);
        // /vdc/nodes, then per node its stats call and its ping.
        assert_eq!(node_stats_calls(16, true), 33);
        assert_eq!(node_stats_calls(16, false), 17);
        // 1,000 namespaces in batches of 100, with samples and vpools: 1 + 1 + 3 × 10.
        assert_eq!(billing_calls(1000, 1000, 100, 0, true, true), 32);
        // Sizes only, two extra detail pages, 5 namespaces in batches of 2.
        assert_eq!(billing_calls(5, 5, 2, 2, false, false), 1 + 3 + 2);
    }
}
