//! The ECS receiver's metric catalog (dashboard and node-stats collectors, and the
//! client's own figures). docs/metrics.md is generated from it.

use pipeline::MetricDesc;
use pipeline::catalog::{Catalog, CatalogEntry, Instrument, Unavailable, entry};
use pipeline::metric;

// Cluster (local VDC): /dashboard/zones/localzone, /vdc/nodes, /object/capacity, /vdc/alerts.
metric!(
    VERSION_INFO,
    "emcecs.version.info",
    "",
    "Always 1; the ECS version and node count are in the attributes"
);
metric!(
    NODES,
    "emcecs.nodes",
    "{node}",
    "Nodes of the local VDC by state"
);
metric!(
    DISKS,
    "emcecs.disks",
    "{disk}",
    "Disks of the local VDC by state"
);
metric!(
    CAPACITY_TOTAL,
    "emcecs.capacity.total",
    "By",
    "Raw capacity of the local VDC"
);
metric!(CAPACITY_FREE, "emcecs.capacity.free", "By", "Free capacity");
metric!(
    CAPACITY_ALLOCATED,
    "emcecs.capacity.allocated",
    "By",
    "Allocated capacity"
);
metric!(
    CAPACITY_RESERVED,
    "emcecs.capacity.reserved",
    "By",
    "Capacity reserved by the system"
);
metric!(
    CAPACITY_OFFLINE,
    "emcecs.capacity.offline",
    "By",
    "Capacity on disks or nodes that are offline"
);
metric!(
    CAPACITY_USED,
    "emcecs.capacity.used",
    "By",
    "Allocated capacity by what it holds (user data, local protection, system metadata, geo copies, geo cache)"
);
metric!(
    CAPACITY_ALLOCATED_RATIO,
    "emcecs.capacity.allocated.ratio",
    "1",
    "Allocated fraction of the raw capacity"
);
metric!(
    OBJECT_PROVISIONED,
    "emcecs.object.capacity.provisioned",
    "By",
    "Provisioned object capacity (/object/capacity, reported in GB)"
);
metric!(
    OBJECT_AVAILABLE,
    "emcecs.object.capacity.available",
    "By",
    "Available object capacity (/object/capacity, reported in GB)"
);
metric!(
    EFFICIENCY,
    "emcecs.storage.efficiency.ratio",
    "1",
    "User data divided by allocated capacity: how much of what is stored is user data"
);
metric!(
    PROTECTION_OVERHEAD,
    "emcecs.storage.protection.overhead.ratio",
    "1",
    "User data plus local protection, divided by user data (1.33 for erasure coding 12+4)"
);
metric!(
    EC_INFO,
    "emcecs.erasure_coding.info",
    "",
    "Always 1; the erasure-coding scheme derived from the protection overhead is in the attributes"
);
metric!(
    EC_CODED,
    "emcecs.erasure_coding.coded.ratio",
    "1",
    "Fraction of the data already erasure-coded"
);
metric!(
    EC_RATE,
    "emcecs.erasure_coding.rate",
    "By/s",
    "Erasure-coding throughput"
);
metric!(
    GC_PENDING,
    "emcecs.gc.pending",
    "By",
    "Garbage waiting for collection, by type"
);
metric!(
    GC_RECLAIMED,
    "emcecs.gc.reclaimed",
    "By",
    "Garbage reclaimed so far, by type"
);
metric!(
    GC_UNRECLAIMABLE,
    "emcecs.gc.unreclaimable",
    "By",
    "User garbage that cannot be reclaimed"
);
metric!(
    RECOVERY_RATE,
    "emcecs.recovery.rate",
    "By/s",
    "Data recovery throughput"
);
metric!(
    RECOVERY_PENDING,
    "emcecs.recovery.pending",
    "By",
    "Bad chunks waiting to be recovered"
);
metric!(
    RECOVERY_REMAINING,
    "emcecs.recovery.remaining",
    "s",
    "Estimated time until recovery completes"
);
metric!(
    CHUNKS,
    "emcecs.chunks",
    "{chunk}",
    "Chunks by type (repository, XOR, geo copy)"
);
metric!(
    CHUNKS_SIZE,
    "emcecs.chunks.size",
    "By",
    "Size of the chunks by type"
);
metric!(
    ALERTS,
    "emcecs.alerts.unacknowledged",
    "{alert}",
    "Unacknowledged alerts by severity and type"
);
// Storage pools, nodes, disks: /dashboard/zones/localzone/{storagepools,nodes,disks}.
metric!(
    POOL_CAPACITY,
    "emcecs.storage_pool.capacity",
    "By",
    "Capacity of a storage pool by state (total, free, allocated)"
);
metric!(
    POOL_NODES,
    "emcecs.storage_pool.nodes",
    "{node}",
    "Nodes of a storage pool by state"
);
metric!(
    NODE_HEALTHY,
    "emcecs.node.healthy",
    "",
    "1 when the dashboard reports the node Good"
);
metric!(
    NODE_DISKS,
    "emcecs.node.disks",
    "{disk}",
    "Disks of a node by state"
);
metric!(
    NODE_CAPACITY,
    "emcecs.node.capacity",
    "By",
    "Capacity of a node by state (total, free, allocated)"
);
metric!(
    DISK_HEALTHY,
    "emcecs.disk.healthy",
    "",
    "1 when the dashboard reports the disk Good"
);
metric!(
    DISK_CAPACITY,
    "emcecs.disk.capacity",
    "By",
    "Capacity of a disk by state (total, allocated)"
);
// Replication: /dashboard/zones/localzone/replicationgroups, .../rglinksFailed.
metric!(
    REPL_INGRESS,
    "emcecs.replication.ingress",
    "By/s",
    "Replication traffic into the local VDC, per replication group"
);
metric!(
    REPL_EGRESS,
    "emcecs.replication.egress",
    "By/s",
    "Replication traffic out of the local VDC, per replication group"
);
metric!(
    REPL_PENDING,
    "emcecs.replication.pending",
    "By",
    "Data waiting to be replicated (repository, journal) or XOR-ed, per replication group"
);
metric!(
    REPL_LAG,
    "emcecs.replication.lag",
    "s",
    "Recovery point: now minus the replication group's replicationRpoTimestamp"
);
metric!(
    REPL_LINKS_FAILED,
    "emcecs.replication.links.failed",
    "{link}",
    "Failed replication group links"
);
// ECS 3.5 and earlier only (removed from the dashboard in 3.6).
metric!(
    TX_LATENCY,
    "emcecs.transaction.latency",
    "s",
    "S3/Swift transaction latency by operation (ECS 3.5 and earlier)"
);
metric!(
    TX_RATE,
    "emcecs.transaction.rate",
    "{transaction}/s",
    "Transactions per second by operation (ECS 3.5 and earlier)"
);
metric!(
    TX_BANDWIDTH,
    "emcecs.transaction.bandwidth",
    "By/s",
    "Transaction bandwidth by operation (ECS 3.5 and earlier)"
);
metric!(
    TX_TOTAL,
    "emcecs.transactions",
    "{transaction}",
    "Transactions since the cluster's counters started, by result (ECS 3.5 and earlier)"
);
metric!(
    TX_ERRORS,
    "emcecs.transaction.errors",
    "{transaction}",
    "Failed transactions by error code, protocol and category (ECS 3.5 and earlier)"
);
// Buckets' settings: /object/namespaces, /object/bucket (refreshed every bucket_config_interval).
metric!(NAMESPACES, "emcecs.namespaces", "{namespace}", "Namespaces");
metric!(
    BUCKETS,
    "emcecs.buckets",
    "{bucket}",
    "Buckets per namespace"
);
metric!(
    BUCKET_LOCK,
    "emcecs.bucket.object_lock.enabled",
    "",
    "1 when object lock is enabled on the bucket (ECS 3.6 and later)"
);
metric!(
    BUCKET_LOCK_RETENTION,
    "emcecs.bucket.object_lock.default_retention",
    "s",
    "Default object-lock retention of the bucket, by mode (GOVERNANCE, COMPLIANCE)"
);
metric!(
    BUCKET_RETENTION,
    "emcecs.bucket.retention",
    "s",
    "Default retention period of the bucket"
);
metric!(
    BUCKET_VERSIONING,
    "emcecs.bucket.versioning.enabled",
    "",
    "1 when versioning is enabled on the bucket (0 suspended or never enabled; ObjectScale 4.x only)"
);
metric!(
    BUCKET_LOCKED,
    "emcecs.bucket.locked",
    "",
    "1 when the bucket is locked by an administrator"
);
// Node stats: port 9101 /stats/dt/DTInitStat, the S3 port's ?ping, /dashboard/nodes/{id} on ObjectScale.
metric!(
    NODE_DT,
    "emcecs.node.dt.tables",
    "{table}",
    "Directory tables of the node by state (total, unready, unknown); ECS only"
);
metric!(
    NODE_DT_READY,
    "emcecs.node.dt.ready.ratio",
    "1",
    "Fraction of the node's directory tables that are ready; ECS only"
);
metric!(
    NODE_LOAD,
    "emcecs.node.load_factor",
    "{connection}",
    "Active S3 connections of the node (?ping LOAD_FACTOR)"
);
metric!(
    NODE_MAINTENANCE,
    "emcecs.node.maintenance_mode",
    "",
    "1 when the node is in maintenance mode (?ping)"
);
metric!(
    NODE_UP,
    "emcecs.node.stats.up",
    "",
    "1 when the node answered this cycle's stats call (9101 on ECS, /dashboard/nodes/{id} on ObjectScale)"
);
// The cluster client's own figures.
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

use Instrument::{Counter, Gauge, Histogram};

const LZ: &str = "/dashboard/zones/localzone";
const IAM_SRC: &str = "POST /iam?Action=ListUsers";
const IAM_KEYS_SRC: &str = "ListUsers (PasswordLastUsed), GetAccessKeyLastUsed";
const IAM_POLICY_SRC: &str =
    "GetPolicyVersion, Get{User,Group,Role}Policy, ListEntitiesForPolicy, GetGroup";
const BILL_INFO: &str = "POST /object/billing/namespace/info";
const BILL_SAMPLE: &str = "POST /object/billing/namespace/sample (month to date)";
const BUCKET_ATTRS: &[&str] = &[
    "namespace",
    "bucket",
    "replication_group",
    "tag_<key in snake case>",
];

// Billing: /object/billing (bulk, with bucket detail), /object/namespaces, /vdc/data-service/vpools.
metric!(
    BILL_BUCKET_STORAGE,
    "emcecs.bucket.storage",
    "By",
    "Bytes the bucket holds (billing total_size)"
);
metric!(
    BILL_BUCKET_OBJECTS,
    "emcecs.bucket.objects",
    "{object}",
    "Objects in the bucket"
);
metric!(
    BILL_BUCKET_MPU_SIZE,
    "emcecs.bucket.multipart_upload.size",
    "By",
    "Bytes in unfinished multipart uploads (total_mpu_size)"
);
metric!(
    BILL_BUCKET_MPU_PARTS,
    "emcecs.bucket.multipart_upload.parts",
    "{part}",
    "Parts of unfinished multipart uploads"
);
metric!(
    BILL_BUCKET_INGRESS,
    "emcecs.bucket.ingress",
    "By",
    "Bytes written to the bucket this calendar month (UTC); restarts each month"
);
metric!(
    BILL_BUCKET_EGRESS,
    "emcecs.bucket.egress",
    "By",
    "Bytes read from the bucket this calendar month (UTC); restarts each month"
);
metric!(
    BILL_BUCKET_CREATED,
    "emcecs.bucket.objects.created",
    "{object}",
    "Objects created in the bucket this calendar month (UTC)"
);
metric!(
    BILL_BUCKET_DELETED,
    "emcecs.bucket.objects.deleted",
    "{object}",
    "Objects deleted from the bucket this calendar month (UTC)"
);
metric!(
    BILL_BUCKET_STORAGE_COST,
    "emcecs.bucket.storage.cost.usd",
    "{USD}",
    "Monthly storage cost at the bucket's current size: bytes / 1024³ × the price per GB-month of its replication group (pricing.storage); the name ends with pricing.currency"
);
metric!(
    BILL_BUCKET_TREND,
    "emcecs.bucket.cost.trend",
    "%",
    "Change of the bucket's storage cost over trend_window (default 24 h): bytes_delta / (size − bytes_delta) × 100, from the sample API; only for buckets with a storage price"
);
metric!(
    BILL_NS_BYTES,
    "emcecs.namespace.total_bytes",
    "By",
    "Bytes the namespace holds (billing total_size)"
);
metric!(
    BILL_NS_OBJECTS,
    "emcecs.namespace.total_objects",
    "{object}",
    "Objects in the namespace"
);
metric!(
    BILL_NS_MPU_SIZE,
    "emcecs.namespace.multipart_upload.size",
    "By",
    "Bytes in unfinished multipart uploads of the namespace"
);
metric!(
    BILL_NS_INGRESS,
    "emcecs.namespace.ingress",
    "By",
    "Bytes written to the namespace this calendar month (UTC); restarts each month"
);
metric!(
    BILL_NS_EGRESS,
    "emcecs.namespace.egress",
    "By",
    "Bytes read from the namespace this calendar month (UTC); restarts each month"
);
metric!(
    BILL_NS_QUOTA,
    "emcecs.namespace.quota",
    "By",
    "The namespace's quota: block (writes refused above it) and notification (alert above it); absent when not set"
);
metric!(
    BILL_NS_QUOTA_USED,
    "emcecs.namespace.quota.used",
    "1",
    "Fraction of the block quota in use (total bytes / block quota)"
);
metric!(
    BILL_NS_STORAGE_COST,
    "emcecs.namespace.storage.cost.usd",
    "{USD}",
    "Monthly storage cost of the namespace: the sum of its buckets' storage costs"
);
metric!(
    BILL_NS_BANDWIDTH_COST,
    "emcecs.namespace.bandwidth.cost.usd",
    "{USD}",
    "Cost of this calendar month's traffic so far, by direction: the month-to-date volume priced tier by tier (pricing.egress, pricing.ingress)"
);
metric!(
    BILL_NS_TREND,
    "emcecs.namespace.cost.trend",
    "%",
    "Change of the namespace's storage cost over trend_window: (cost now − cost then) / cost then × 100, bucket by bucket"
);
metric!(
    BILL_UPTODATE,
    "emcecs.billing.uptodate_timestamp",
    "s",
    "uptodate_till of the namespace's billing data: ECS's metering is consistent up to this time (it lags by about 15 minutes); the billing points carry it as their time"
);
metric!(
    BILL_FOLDED,
    "ecs_otel_agent.ecs.billing.buckets.folded",
    "{bucket}",
    "Buckets beyond collectors.billing.max_buckets, summed into bucket=\"__other__\" of their namespace"
);

// IAM: POST /iam?Action=… per namespace, /vdc/users, /vdc/admin/authnproviders.
metric!(
    IAM_USERS,
    "emcecs.iam.users",
    "{user}",
    "IAM users by type (service accounts by collectors.iam.service_accounts; the rest human). A gauge: not emcecs_iam_users_total, a suffix Prometheus keeps for counters"
);
metric!(
    IAM_USERS_ACTIVE,
    "emcecs.iam.users.active",
    "{user}",
    "IAM users whose password or access keys were used within inactive_threshold_days (90)"
);
metric!(
    IAM_USER_INACTIVE,
    "emcecs.iam.users.inactive",
    "d",
    "Days since the user's last activity (password or access key use; since creation when never used, activity=\"never\"), only for users past inactive_threshold_days"
);
metric!(
    IAM_CREDENTIAL_AGE,
    "emcecs.iam.credential.age",
    "d",
    "Age in days of the user's oldest access key of each status (the key id is never a label)"
);
metric!(
    IAM_ACCESS_KEYS,
    "emcecs.iam.access_keys",
    "{key}",
    "Access keys by status"
);
metric!(IAM_GROUPS, "emcecs.iam.groups", "{group}", "IAM groups");
metric!(IAM_ROLES, "emcecs.iam.roles", "{role}", "IAM roles");
metric!(
    IAM_POLICIES,
    "emcecs.iam.policies",
    "{policy}",
    "Policies of the namespace: managed (its own, not ECS's built-ins) and inline (on users, groups and roles)"
);
metric!(
    IAM_ATTACHMENTS,
    "emcecs.iam.policy.attachments",
    "{attachment}",
    "Managed-policy attachments by entity type (built-ins included)"
);
metric!(
    IAM_OVERPRIV,
    "emcecs.iam.overprivileged.entities",
    "{entity}",
    "Users and roles whose effective policies grant *, iam:* or s3:* on every resource without a condition and without a Deny taking it back (docs/SECURITY.md)"
);
metric!(
    IAM_OVERPRIV_ENTITY,
    "emcecs.iam.overprivileged.entity",
    "",
    "1 for each over-privileged user or role, with what it is granted (grants: *, iam:*, s3:*)"
);
metric!(
    IAM_UNREADABLE,
    "emcecs.iam.policy_documents.unreadable",
    "{document}",
    "Policy documents that could not be read or parsed: the entities holding them are judged on the rest"
);
metric!(
    MGMT_USERS,
    "emcecs.management.users",
    "{user}",
    "Management users (/vdc/users) by role; a user with several roles counts in each"
);
metric!(
    AUTH_ENABLED,
    "emcecs.auth_provider.enabled",
    "",
    "1 when the authentication provider is configured and not disabled"
);
metric!(
    AUTH_AVAILABLE,
    "emcecs.auth_provider.available",
    "",
    "1 when the provider's server answered the probe (TCP connect; for ldap:// also an anonymous RootDSE search, no bind) within probe_timeout"
);
metric!(
    AUTH_RESPONSE,
    "emcecs.auth_provider.response_time",
    "s",
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
and when samples are due two POST /object/billing/namespace/sample per batch (month to date, trend window); each namespace whose bucket detail spans more pages (ECS pages it at 100 buckets) costs one GET per extra page and per read. \
Sizes are read in KB × 1024 (exact); traffic counters restart each calendar month (UTC) and are recomputed from the month's start at every read, so an agent restart neither loses nor doubles anything. \
An IAM cycle (off unless collectors.iam.enabled) reads /object/namespaces, /vdc/users, /vdc/admin/authnproviders and each provider, then per namespace ListUsers, ListGroups, ListRoles, ListPolicies (one call per page of page_size), \
ListEntitiesForPolicy per attached policy, GetPolicyVersion per managed policy version not seen before (cached), GetGroup and ListGroupPolicies per group, ListRolePolicies per role, ListAccessKeys and ListUserPolicies per user, \
GetAccessKeyLastUsed per key, Get*Policy per inline policy (and ListUserTags per user when the service-account rule uses a tag). \
Every series also carries job (service.name), instance (the cluster), and target_info holds ecs.cluster.name, ecs.vdc.name, ecs.vdc.id.",
    metrics: &[
        entry(VERSION_INFO, Gauge, &["version", "nodes"], "/vdc/nodes"),
        entry(NODES, Gauge, &["state"], LZ),
        entry(DISKS, Gauge, &["state"], LZ),
        entry(CAPACITY_TOTAL, Gauge, &[], LZ),
        entry(CAPACITY_FREE, Gauge, &[], LZ),
        entry(CAPACITY_ALLOCATED, Gauge, &[], LZ),
        entry(CAPACITY_RESERVED, Gauge, &[], LZ),
        entry(CAPACITY_OFFLINE, Gauge, &[], LZ),
        entry(CAPACITY_USED, Gauge, &["type"], LZ),
        entry(CAPACITY_ALLOCATED_RATIO, Gauge, &[], LZ),
        entry(OBJECT_PROVISIONED, Gauge, &[], "/object/capacity"),
        entry(OBJECT_AVAILABLE, Gauge, &[], "/object/capacity"),
        entry(EFFICIENCY, Gauge, &[], LZ),
        entry(PROTECTION_OVERHEAD, Gauge, &[], LZ),
        entry(EC_INFO, Gauge, &["scheme"], LZ),
        entry(EC_CODED, Gauge, &[], LZ),
        entry(EC_RATE, Gauge, &[], LZ),
        entry(GC_PENDING, Gauge, &["type"], LZ),
        entry(GC_RECLAIMED, Gauge, &["type"], LZ),
        entry(GC_UNRECLAIMABLE, Gauge, &[], LZ),
        entry(RECOVERY_RATE, Gauge, &[], LZ),
        entry(RECOVERY_PENDING, Gauge, &[], LZ),
        entry(RECOVERY_REMAINING, Gauge, &[], LZ),
        entry(CHUNKS, Gauge, &["type"], LZ),
        entry(CHUNKS_SIZE, Gauge, &["type"], LZ),
        entry(ALERTS, Gauge, &["severity", "type"], "/vdc/alerts"),
        entry(
            POOL_CAPACITY,
            Gauge,
            &["storage_pool", "storage_pool_id", "state"],
            "/dashboard/zones/localzone/storagepools",
        ),
        entry(
            POOL_NODES,
            Gauge,
            &["storage_pool", "storage_pool_id", "state"],
            "/dashboard/zones/localzone/storagepools",
        ),
        entry(
            NODE_HEALTHY,
            Gauge,
            &["node", "node_id"],
            "/dashboard/zones/localzone/nodes",
        ),
        entry(
            NODE_DISKS,
            Gauge,
            &["node", "node_id", "state"],
            "/dashboard/zones/localzone/nodes",
        ),
        entry(
            NODE_CAPACITY,
            Gauge,
            &["node", "node_id", "state"],
            "/dashboard/zones/localzone/nodes",
        ),
        entry(
            DISK_HEALTHY,
            Gauge,
            &["node", "disk", "slot", "storage_pool"],
            "/dashboard/zones/localzone/disks",
        ),
        entry(
            DISK_CAPACITY,
            Gauge,
            &["node", "disk", "slot", "state"],
            "/dashboard/zones/localzone/disks",
        ),
        entry(
            REPL_INGRESS,
            Gauge,
            &["replication_group", "replication_group_id"],
            "/dashboard/zones/localzone/replicationgroups",
        ),
        entry(
            REPL_EGRESS,
            Gauge,
            &["replication_group", "replication_group_id"],
            "/dashboard/zones/localzone/replicationgroups",
        ),
        entry(
            REPL_PENDING,
            Gauge,
            &["replication_group", "replication_group_id", "type"],
            "/dashboard/zones/localzone/replicationgroups",
        ),
        entry(
            REPL_LAG,
            Gauge,
            &["replication_group", "replication_group_id"],
            "/dashboard/zones/localzone/replicationgroups",
        ),
        entry(
            REPL_LINKS_FAILED,
            Gauge,
            &["replication_group"],
            "/dashboard/zones/localzone/rglinksFailed",
        ),
        entry(TX_LATENCY, Gauge, &["operation"], LZ),
        entry(TX_RATE, Gauge, &["operation"], LZ),
        entry(TX_BANDWIDTH, Gauge, &["operation"], LZ),
        entry(TX_TOTAL, Counter, &["result"], LZ),
        entry(TX_ERRORS, Counter, &["code", "protocol", "category"], LZ),
        entry(NAMESPACES, Gauge, &[], "/object/namespaces"),
        entry(BUCKETS, Gauge, &["namespace"], "/object/bucket"),
        entry(
            BUCKET_LOCK,
            Gauge,
            &["namespace", "bucket"],
            "/object/bucket",
        ),
        entry(
            BUCKET_LOCK_RETENTION,
            Gauge,
            &["namespace", "bucket", "mode"],
            "/object/bucket",
        ),
        entry(
            BUCKET_RETENTION,
            Gauge,
            &["namespace", "bucket"],
            "/object/bucket",
        ),
        entry(
            BUCKET_VERSIONING,
            Gauge,
            &["namespace", "bucket"],
            "/object/bucket",
        ),
        entry(
            BUCKET_LOCKED,
            Gauge,
            &["namespace", "bucket"],
            "/object/bucket",
        ),
        entry(BILL_BUCKET_STORAGE, Gauge, BUCKET_ATTRS, BILL_INFO),
        entry(BILL_BUCKET_OBJECTS, Gauge, BUCKET_ATTRS, BILL_INFO),
        entry(BILL_BUCKET_MPU_SIZE, Gauge, BUCKET_ATTRS, BILL_INFO),
        entry(BILL_BUCKET_MPU_PARTS, Gauge, BUCKET_ATTRS, BILL_INFO),
        entry(BILL_BUCKET_INGRESS, Counter, BUCKET_ATTRS, BILL_SAMPLE),
        entry(BILL_BUCKET_EGRESS, Counter, BUCKET_ATTRS, BILL_SAMPLE),
        entry(BILL_BUCKET_CREATED, Counter, BUCKET_ATTRS, BILL_SAMPLE),
        entry(BILL_BUCKET_DELETED, Counter, BUCKET_ATTRS, BILL_SAMPLE),
        entry(
            BILL_BUCKET_STORAGE_COST,
            Gauge,
            BUCKET_ATTRS,
            "billing info and the cost model",
        ),
        entry(
            BILL_BUCKET_TREND,
            Gauge,
            BUCKET_ATTRS,
            "billing sample over trend_window",
        ),
        entry(BILL_NS_BYTES, Gauge, &["namespace"], BILL_INFO),
        entry(BILL_NS_OBJECTS, Gauge, &["namespace"], BILL_INFO),
        entry(BILL_NS_MPU_SIZE, Gauge, &["namespace"], BILL_INFO),
        entry(BILL_NS_INGRESS, Counter, &["namespace"], BILL_SAMPLE),
        entry(BILL_NS_EGRESS, Counter, &["namespace"], BILL_SAMPLE),
        entry(
            BILL_NS_QUOTA,
            Gauge,
            &["namespace", "type"],
            "/object/namespaces (blockSize, notificationSize; GB)",
        ),
        entry(
            BILL_NS_QUOTA_USED,
            Gauge,
            &["namespace"],
            "/object/namespaces and billing info",
        ),
        entry(
            BILL_NS_STORAGE_COST,
            Gauge,
            &["namespace"],
            "billing info and the cost model",
        ),
        entry(
            BILL_NS_BANDWIDTH_COST,
            Gauge,
            &["namespace", "direction"],
            "month-to-date billing sample and the cost model",
        ),
        entry(
            BILL_NS_TREND,
            Gauge,
            &["namespace"],
            "billing sample over trend_window",
        ),
        entry(BILL_UPTODATE, Gauge, &["namespace"], BILL_INFO),
        entry(BILL_FOLDED, Gauge, &[], "collectors.billing.max_buckets"),
        entry(IAM_USERS, Gauge, &["namespace", "user_type"], IAM_SRC),
        entry(
            IAM_USERS_ACTIVE,
            Gauge,
            &["namespace", "user_type"],
            IAM_KEYS_SRC,
        ),
        entry(
            IAM_USER_INACTIVE,
            Gauge,
            &["namespace", "user", "user_type", "activity"],
            IAM_KEYS_SRC,
        ),
        entry(
            IAM_CREDENTIAL_AGE,
            Gauge,
            &["namespace", "user", "credential_type", "status"],
            "ListAccessKeys",
        ),
        entry(
            IAM_ACCESS_KEYS,
            Gauge,
            &["namespace", "status"],
            "ListAccessKeys",
        ),
        entry(IAM_GROUPS, Gauge, &["namespace"], "ListGroups"),
        entry(IAM_ROLES, Gauge, &["namespace"], "ListRoles"),
        entry(
            IAM_POLICIES,
            Gauge,
            &["namespace", "policy_type"],
            "ListPolicies, List{User,Group,Role}Policies",
        ),
        entry(
            IAM_ATTACHMENTS,
            Gauge,
            &["namespace", "attached_to"],
            "ListEntitiesForPolicy",
        ),
        entry(
            IAM_OVERPRIV,
            Gauge,
            &["namespace", "entity_type"],
            IAM_POLICY_SRC,
        ),
        entry(
            IAM_OVERPRIV_ENTITY,
            Gauge,
            &["namespace", "entity_type", "entity", "grants"],
            IAM_POLICY_SRC,
        ),
        entry(IAM_UNREADABLE, Gauge, &["namespace"], IAM_POLICY_SRC),
        entry(MGMT_USERS, Gauge, &["role"], "/vdc/users"),
        entry(
            AUTH_ENABLED,
            Gauge,
            &["provider", "mode"],
            "/vdc/admin/authnproviders/{id}",
        ),
        entry(
            AUTH_AVAILABLE,
            Gauge,
            &["provider", "mode", "server"],
            "probe of server_urls",
        ),
        entry(
            AUTH_RESPONSE,
            Gauge,
            &["provider", "mode", "server"],
            "probe of server_urls",
        ),
        entry(
            NODE_DT,
            Gauge,
            &["node", "node_ip", "state"],
            "http://<node>:9101/stats/dt/DTInitStat",
        ),
        entry(
            NODE_DT_READY,
            Gauge,
            &["node", "node_ip"],
            "http://<node>:9101/stats/dt/DTInitStat",
        ),
        entry(
            NODE_LOAD,
            Gauge,
            &["node", "node_ip"],
            "http://<node>:9020/?ping",
        ),
        entry(
            NODE_MAINTENANCE,
            Gauge,
            &["node", "node_ip"],
            "http://<node>:9020/?ping",
        ),
        entry(
            NODE_UP,
            Gauge,
            &["node", "node_ip"],
            "9101, or /dashboard/nodes/{id} on ObjectScale",
        ),
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
    ],
    unavailable: &[
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
            name: "emcecs_namespace_access_requests_total, emcecs_namespace_cross_tenant_requests_total, emcecs_namespace_access_denied_by_reason, emcecs_namespace_privileged_operations_total",
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
            name: "emcecs_transaction_* on ECS 3.6+",
            reason: "Removed from the dashboard API in ECS 3.6; they live in the Flux API, which this agent does not read yet.",
        },
    ],
};

const fn compat_entry(
    desc: MetricDesc<'static>,
    attributes: &'static [&'static str],
    source: &'static str,
) -> CatalogEntry {
    CatalogEntry {
        desc,
        instrument: Gauge,
        attributes,
        enabled: false,
        source,
    }
}

/// The compatibility names (`compatibility_names: true`), for the reference.
pub const COMPAT_CATALOG: Catalog = Catalog {
    receiver: "ecs (compatibility_names: true)",
    description: "The names of paychex/prometheus-emcecs-exporter, emitted besides the ones above when `compatibility_names` is on, so that existing dashboards keep working. \
Two of that exporter's bugs are not copied: the alert figures are gauges (it exposed them as counters), and replication is read per replication group (it read the wrong JSON level). \
Like the originals they have no unit suffix and camelCase node names, which promtool's lint reports.",
    metrics: &[
        compat_entry(compat::GOOD_NODES, &["vdc"], LZ),
        compat_entry(compat::BAD_NODES, &["vdc"], LZ),
        compat_entry(compat::GOOD_DISKS, &["vdc"], LZ),
        compat_entry(compat::BAD_DISKS, &["vdc"], LZ),
        compat_entry(compat::SPACE_FREE, &["vdc"], LZ),
        compat_entry(compat::SPACE_TOTAL, &["vdc"], LZ),
        compat_entry(compat::ALERTS_CRITICAL, &["vdc"], "/vdc/alerts"),
        compat_entry(compat::ALERTS_ERROR, &["vdc"], "/vdc/alerts"),
        compat_entry(compat::ALERTS_INFO, &["vdc"], "/vdc/alerts"),
        compat_entry(compat::ALERTS_WARNING, &["vdc"], "/vdc/alerts"),
        compat_entry(compat::TX_SUCCESS, &["vdc"], LZ),
        compat_entry(compat::TX_ERROR, &["vdc"], LZ),
        compat_entry(
            compat::TX_ERROR_DETAIL,
            &["vdc", "errorcode", "errorproto", "category"],
            LZ,
        ),
        compat_entry(compat::TX_READ_LATENCY, &["vdc"], LZ),
        compat_entry(compat::TX_WRITE_LATENCY, &["vdc"], LZ),
        compat_entry(compat::TX_READ_TPS, &["vdc"], LZ),
        compat_entry(compat::TX_WRITE_TPS, &["vdc"], LZ),
        compat_entry(compat::TX_READ_BW, &["vdc"], LZ),
        compat_entry(compat::TX_WRITE_BW, &["vdc"], LZ),
        compat_entry(compat::REPL_INGRESS, &["node"], RGS),
        compat_entry(compat::REPL_EGRESS, &["node"], RGS),
        compat_entry(compat::REPL_DATA_PENDING, &["node"], RGS),
        compat_entry(compat::REPL_JOURNAL_PENDING, &["node"], RGS),
        compat_entry(compat::REPL_XOR_PENDING, &["node"], RGS),
        compat_entry(compat::REPL_LAST, &["node"], RGS),
        compat_entry(compat::VERSION, &["version", "nodecount"], "/vdc/nodes"),
        compat_entry(
            compat::DT_TOTAL,
            &["node"],
            "http://<node>:9101/stats/dt/DTInitStat",
        ),
        compat_entry(
            compat::DT_UNREADY,
            &["node"],
            "http://<node>:9101/stats/dt/DTInitStat",
        ),
        compat_entry(
            compat::DT_UNKNOWN,
            &["node"],
            "http://<node>:9101/stats/dt/DTInitStat",
        ),
        compat_entry(
            compat::ACTIVE_CONNECTIONS,
            &["node"],
            "http://<node>:9020/?ping",
        ),
        compat_entry(
            compat::METERING_QUOTA,
            &["ecsnamespace", "type"],
            "/object/namespaces, billing info",
        ),
        compat_entry(compat::METERING_OBJECTS, &["ecsnamespace"], BILL_INFO),
    ],
    unavailable: &[],
};

const RGS: &str = "/dashboard/zones/localzone/replicationgroups";

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

/// Management calls of one billing cycle: `listed` namespaces on the cluster, `read` of
/// them in `batch_size` batches, `extra_pages` bucket-detail pages beyond each namespace's
/// first, the samples read this cycle or not, the replication-group names refreshed or not.
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
    use super::MetricDesc;

    macro_rules! compat {
        ($id:ident, $name:literal, $desc:literal) => {
            pub const $id: MetricDesc<'static> = MetricDesc::new($name, "", $desc);
        };
    }

    compat!(
        METERING_QUOTA,
        "emcecs_metering_namespacequota",
        "Namespace quota and use in KB (1024 bytes), type block, notification or used (paychex name; billing collector)"
    );
    compat!(
        METERING_OBJECTS,
        "emcecs_metering_namespace_object_count",
        "Objects in the namespace (paychex name; billing collector)"
    );
    compat!(
        GOOD_NODES,
        "emcecs_cluster_good_nodes",
        "Good nodes (paychex name)"
    );
    compat!(
        BAD_NODES,
        "emcecs_cluster_bad_nodes",
        "Bad nodes (paychex name)"
    );
    compat!(
        GOOD_DISKS,
        "emcecs_cluster_good_disks",
        "Good disks (paychex name)"
    );
    compat!(
        BAD_DISKS,
        "emcecs_cluster_bad_disks",
        "Bad disks (paychex name)"
    );
    compat!(
        SPACE_FREE,
        "emcecs_cluster_space_free",
        "Free space in bytes (paychex name)"
    );
    compat!(
        SPACE_TOTAL,
        "emcecs_cluster_space_total",
        "Total space in bytes (paychex name)"
    );
    compat!(
        ALERTS_CRITICAL,
        "emcecs_cluster_alerts_critical",
        "Unacknowledged critical alerts (paychex name; a gauge, not a counter)"
    );
    compat!(
        ALERTS_ERROR,
        "emcecs_cluster_alerts_error",
        "Unacknowledged error alerts (paychex name; a gauge)"
    );
    compat!(
        ALERTS_INFO,
        "emcecs_cluster_alerts_info",
        "Unacknowledged info alerts (paychex name; a gauge)"
    );
    compat!(
        ALERTS_WARNING,
        "emcecs_cluster_alerts_warning",
        "Unacknowledged warning alerts (paychex name; a gauge)"
    );
    compat!(
        TX_SUCCESS,
        "emcecs_cluster_transaction_success",
        "Successful transactions (paychex name; ECS 3.5)"
    );
    compat!(
        TX_ERROR,
        "emcecs_cluster_transaction_error",
        "Failed transactions (paychex name; ECS 3.5)"
    );
    compat!(
        TX_ERROR_DETAIL,
        "emcecs_cluster_transaction_error_detail",
        "Failed transactions by code (paychex name; ECS 3.5)"
    );
    compat!(
        TX_READ_LATENCY,
        "emcecs_cluster_transaction_read_latency",
        "Read latency in ms (paychex name; ECS 3.5)"
    );
    compat!(
        TX_WRITE_LATENCY,
        "emcecs_cluster_transaction_write_latency",
        "Write latency in ms (paychex name; ECS 3.5)"
    );
    compat!(
        TX_READ_TPS,
        "emcecs_cluster_transaction_read_per_second",
        "Reads per second (paychex name; ECS 3.5)"
    );
    compat!(
        TX_WRITE_TPS,
        "emcecs_cluster_transaction_write_per_second",
        "Writes per second (paychex name; ECS 3.5)"
    );
    compat!(
        TX_READ_BW,
        "emcecs_cluster_transaction_read_bandwidth",
        "Read bandwidth (paychex name; ECS 3.5)"
    );
    compat!(
        TX_WRITE_BW,
        "emcecs_cluster_transaction_write_bandwidth",
        "Write bandwidth (paychex name; ECS 3.5)"
    );
    compat!(
        REPL_INGRESS,
        "emcecs_cluster_replication_ingress_traffic",
        "Replication ingress (paychex name; label node holds the RG)"
    );
    compat!(
        REPL_EGRESS,
        "emcecs_cluster_replication_egress_traffic",
        "Replication egress (paychex name; label node holds the RG)"
    );
    compat!(
        REPL_DATA_PENDING,
        "emcecs_cluster_data_replication_pending",
        "Data pending replication (paychex name)"
    );
    compat!(
        REPL_JOURNAL_PENDING,
        "emcecs_cluster_journal_replication_pending",
        "Journal pending replication (paychex name)"
    );
    compat!(
        REPL_XOR_PENDING,
        "emcecs_cluster_chunks_pending_xor",
        "Chunks pending XOR (paychex name)"
    );
    compat!(
        REPL_LAST,
        "emcecs_cluster_last_replication_timestamp",
        "replicationRpoTimestamp (paychex name)"
    );
    compat!(
        VERSION,
        "emcecs_cluster_version",
        "Always 1; version and node count in labels (paychex name)"
    );
    compat!(
        DT_TOTAL,
        "emcecs_node_dtTotal",
        "Directory tables (paychex name)"
    );
    compat!(
        DT_UNREADY,
        "emcecs_node_dtUnready",
        "Unready directory tables (paychex name)"
    );
    compat!(
        DT_UNKNOWN,
        "emcecs_node_dtUnknown",
        "Unknown directory tables (paychex name)"
    );
    compat!(
        ACTIVE_CONNECTIONS,
        "emcecs_node_activeConnections",
        "Load factor (paychex name)"
    );

    pub const ALL: &[MetricDesc<'static>] = &[
        GOOD_NODES,
        BAD_NODES,
        GOOD_DISKS,
        BAD_DISKS,
        SPACE_FREE,
        SPACE_TOTAL,
        ALERTS_CRITICAL,
        ALERTS_ERROR,
        ALERTS_INFO,
        ALERTS_WARNING,
        TX_SUCCESS,
        TX_ERROR,
        TX_ERROR_DETAIL,
        TX_READ_LATENCY,
        TX_WRITE_LATENCY,
        TX_READ_TPS,
        TX_WRITE_TPS,
        TX_READ_BW,
        TX_WRITE_BW,
        REPL_INGRESS,
        REPL_EGRESS,
        REPL_DATA_PENDING,
        REPL_JOURNAL_PENDING,
        REPL_XOR_PENDING,
        REPL_LAST,
        VERSION,
        DT_TOTAL,
        DT_UNREADY,
        DT_UNKNOWN,
        ACTIVE_CONNECTIONS,
    ];
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
