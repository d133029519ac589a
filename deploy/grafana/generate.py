#!/usr/bin/env python3
"""Writes the four Grafana dashboards (deploy/grafana/dashboards/*.json) from the panel
lists below. Run it after editing a panel: `python3 deploy/grafana/generate.py`; the test
deploy_files.rs fails when the committed JSON and this file disagree (`--check`).

Every query names only metrics of docs/metrics.md or recorded series of
deploy/prometheus/recording.yml; deploy_stack.rs runs each one against a Prometheus that
scraped the agent on the simulator and requires series.
"""
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
C = 'instance=~"$cluster"'
CN = 'instance=~"$cluster", namespace=~"$namespace"'
TAG = "ecs-otel-agent"


def panel(kind, title, exprs, unit="short", w=8, h=8, legend=None, instant=False,
          exemplars=False):
    targets = []
    for i, e in enumerate(exprs if isinstance(exprs, list) else [exprs]):
        t = {"refId": chr(ord("A") + i), "datasource": DS, "expr": e}
        if exemplars:
            # The agent's histograms carry the trace of a recent observation per bucket.
            t["exemplar"] = True
        if legend:
            t["legendFormat"] = legend
        if instant or kind in ("table", "bargauge", "stat"):
            t["instant"] = True
            t["range"] = False
        if kind == "table":
            t["format"] = "table"
        targets.append(t)
    p = {
        "type": kind,
        "title": title,
        "datasource": DS,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": targets,
        "_w": w,
        "_h": h,
    }
    if kind == "table":
        p["transformations"] = [{"id": "merge", "options": {}}]
    return p


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "_w": 24, "_h": 1}


def alertlist(title):
    return {
        "type": "alertlist",
        "title": title,
        # Grafana's unified alert list: the rules Prometheus evaluates (deploy/prometheus)
        # show here through the Prometheus data source, firing and pending ones.
        "options": {
            "viewMode": "list",
            "groupMode": "default",
            "groupBy": [],
            "maxItems": 20,
            "sortOrder": 1,
            "dashboardAlerts": False,
            "alertName": "",
            "alertInstanceLabelFilter": "",
            "datasource": "",
            "stateFilter": {"firing": True, "pending": True, "noData": False, "normal": False, "error": True},
        },
        "_w": 24,
        "_h": 6,
    }


def layout(panels):
    x = y = rowh = 0
    out = []
    for i, p in enumerate(panels, start=1):
        w, h = p.pop("_w"), p.pop("_h")
        if x + w > 24 or p["type"] == "row":
            x, y, rowh = 0, y + rowh, 0
        p["id"] = i
        p["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
        x += w
        rowh = max(rowh, h)
        if p["type"] == "row":
            x, y, rowh = 0, y + h, 0
        out.append(p)
    return out


def dashboard(uid, title, description, panels, namespace_var=True):
    variables = [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus", "current": {}},
        {
            "name": "cluster",
            "label": "Cluster",
            "type": "query",
            "datasource": DS,
            "query": {"query": "label_values(emcecs_version_info, instance)", "refId": "cluster"},
            "definition": "label_values(emcecs_version_info, instance)",
            "includeAll": True,
            "multi": True,
            "allValue": ".*",
            "refresh": 2,
            "current": {},
        },
        {
            "name": "namespace",
            "label": "Namespace",
            "type": "query",
            "datasource": DS,
            "query": {"query": 'label_values(emcecs_buckets{instance=~"$cluster"}, namespace)', "refId": "namespace"},
            "definition": 'label_values(emcecs_buckets{instance=~"$cluster"}, namespace)',
            "includeAll": True,
            "multi": True,
            "allValue": ".*",
            "refresh": 2,
            "current": {},
        },
    ]
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": [TAG],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        # The other three dashboards (by tag), carrying the time range and the cluster and
        # namespace selection.
        "links": [
            {
                "type": "dashboards",
                "title": "ECS dashboards",
                "tags": [TAG],
                "asDropdown": False,
                "includeVars": True,
                "keepTime": True,
                "targetBlank": False,
            }
        ],
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": layout(panels),
    }


OPERATIONS = dashboard(
    "ecs-operations",
    "ECS / Operations",
    "Capacity, nodes, disks, replication, alerts and performance (Flux) of the clusters, and the agent's own health.",
    [
        row("Capacity"),
        panel("stat", "Allocated", f"instance:emcecs_capacity_used:ratio{{{C}}}", "percentunit", w=4, legend="{{instance}}"),
        panel("timeseries", "Capacity", [f"emcecs_capacity_total_bytes{{{C}}}", f"emcecs_capacity_allocated_bytes{{{C}}}", f"emcecs_capacity_free_bytes{{{C}}}"], "bytes", w=10),
        panel("timeseries", "Allocated by use", f"emcecs_capacity_used_bytes{{{C}}}", "bytes", w=10, legend="{{instance}} {{type}}"),
        row("Nodes and disks"),
        panel("stat", "Nodes down", f"instance:emcecs_nodes_down:count{{{C}}}", w=4, legend="{{instance}}"),
        panel("bargauge", "Nodes by state", f"emcecs_nodes{{{C}}}", w=5, legend="{{instance}} {{state}}"),
        panel("bargauge", "Disks by state", f"emcecs_disks{{{C}}}", w=5, legend="{{instance}} {{state}}"),
        panel("table", "Node health", [f"emcecs_node_healthy{{{C}}}", f"emcecs_node_stats_up{{{C}}}"], w=10),
        panel("timeseries", "Node CPU", f"emcecs_node_cpu_utilization_ratio{{{C}}}", "percentunit", w=12, legend="{{instance}} {{node}}"),
        panel("timeseries", "Directory tables ready", f"emcecs_node_dt_ready_ratio{{{C}}}", "percentunit", w=12, legend="{{instance}} {{node}}"),
        row("Replication"),
        panel("timeseries", "Replication lag (RPO)", f"emcecs_replication_lag_seconds{{{C}}}", "s", legend="{{instance}} {{replication_group}}"),
        panel("timeseries", "Pending replication", f"emcecs_replication_pending_bytes{{{C}}}", "bytes", legend="{{replication_group}} {{type}}"),
        panel("timeseries", "Replication traffic", [f"emcecs_replication_ingress_bytes_per_second{{{C}}}", f"emcecs_replication_egress_bytes_per_second{{{C}}}"], "Bps"),
        row("Alerts"),
        panel("bargauge", "Unacknowledged ECS alerts by severity", f"sum by (instance, severity) (emcecs_alerts_unacknowledged{{{C}}})", w=8, legend="{{instance}} {{severity}}"),
        panel("table", "Unacknowledged ECS alerts by type", f"emcecs_alerts_unacknowledged{{{C}}}", w=16),
        alertlist("Prometheus alerts (deploy/prometheus/alerts.yml)"),
        row("Performance (Flux, ECS 3.6+)"),
        panel("timeseries", "Requests", f"emcecs_transaction_request_rate_per_second{{{C}}}", "reqps", legend="{{instance}} {{result}}"),
        panel("timeseries", "Latency", f"emcecs_transaction_latency_quantile_seconds{{{C}}}", "s", legend="{{operation}} p{{quantile}}"),
        panel("timeseries", "Bandwidth", f"emcecs_transaction_bandwidth_bytes_per_second{{{C}}}", "Bps", legend="{{instance}} {{operation}}"),
        panel("timeseries", "Errors by category", f"emcecs_transaction_error_rate_per_second{{{C}}}", "reqps", legend="{{instance}} {{category}}"),
        panel("timeseries", "Disk bandwidth by cause", f"sum by (instance, type) (emcecs_disk_bandwidth_bytes_per_second{{{C}}})", "Bps", legend="{{instance}} {{type}}"),
        panel("timeseries", "Recovery and rebalancing", [f"emcecs_recovery_data_bytes{{{C}}}", f"emcecs_rebalancing_data_bytes{{{C}}}"], "bytes"),
        row("The agent"),
        panel("timeseries", "Failed ECS calls", f"instance:ecs_otel_agent_ecs_requests_failed:ratio5m{{{C}}}", "percentunit", w=6, legend="{{instance}}"),
        panel("timeseries", "ECS call duration p99", f"histogram_quantile(0.99, sum by (instance, le) (rate(ecs_otel_agent_ecs_request_duration_seconds_bucket{{{C}}}[$__rate_interval])))", "s", w=6, legend="{{instance}}", exemplars=True),
        panel("timeseries", "Collection runs", "sum by (receiver) (rate(ecs_otel_agent_receiver_runs_total[$__rate_interval]))", "ops", w=6, legend="{{receiver}}"),
        panel("timeseries", "Agent memory", "ecs_otel_agent_process_memory_usage_bytes", "bytes", w=6, legend="{{instance}}"),
        panel("timeseries", "Exporter queues", "ecs_otel_agent_exporter_queue_size", w=12, legend="{{exporter}}"),
        panel("timeseries", "Series on /metrics", "ecs_otel_agent_prometheus_series", w=12, legend="{{source}}"),
    ],
)

COST = dashboard(
    "ecs-cost",
    "ECS / Cost",
    "What each namespace costs from the billing collector's price model (docs/FINOPS.md): monthly cost, buckets, trend, replication groups, bandwidth, budgets.",
    [
        row("This month"),
        panel("stat", "Monthly cost", f"instance:emcecs_cost_usd:monthly{{{C}}}", "currencyUSD", w=6, legend="{{instance}}"),
        panel("bargauge", "Monthly cost by namespace", f"sort_desc(instance_namespace:emcecs_cost_usd:monthly{{{CN}}})", "currencyUSD", w=9, legend="{{instance}} {{namespace}}"),
        panel("bargauge", "Budget used", f"instance_namespace:emcecs_cost_usd:monthly{{{CN}}} / on (namespace) group_left namespace:emcecs_budget_usd:monthly", "percentunit", w=9, legend="{{instance}} {{namespace}}"),
        row("Buckets and replication groups"),
        panel("table", "Top 10 buckets by storage cost", f"topk(10, emcecs_bucket_storage_cost_usd{{{CN}}})", "currencyUSD", w=12),
        panel("bargauge", "Storage cost by replication group", f"instance_replication_group:emcecs_storage_cost_usd:sum{{{C}}}", "currencyUSD", w=12, legend="{{instance}} {{replication_group}}"),
        row("Trend"),
        panel("timeseries", "Monthly cost by namespace", f"instance_namespace:emcecs_cost_usd:monthly{{{CN}}}", "currencyUSD", w=12, legend="{{instance}} {{namespace}}"),
        panel("timeseries", "Storage cost trend (over trend_window)", f"emcecs_namespace_cost_trend_percent{{{CN}}}", "percent", w=12, legend="{{instance}} {{namespace}}"),
        row("Bandwidth"),
        panel("timeseries", "Bandwidth cost this month", f"emcecs_namespace_bandwidth_cost_usd{{{CN}}}", "currencyUSD", w=12, legend="{{namespace}} {{direction}}"),
        panel("timeseries", "Bandwidth cost per hour", f"instance_namespace:emcecs_bandwidth_cost_usd:increase1h{{{CN}}}", "currencyUSD", w=12, legend="{{instance}} {{namespace}}"),
    ],
)

TENANTS = dashboard(
    "ecs-tenants",
    "ECS / Multi-tenant",
    "Each namespace (tenant): storage, quota, users, operations and IAM health.",
    [
        row("Storage"),
        panel("bargauge", "Storage by namespace", f"sort_desc(emcecs_namespace_total_bytes{{{CN}}})", "bytes", legend="{{instance}} {{namespace}}"),
        panel("bargauge", "Quota used", f"emcecs_namespace_quota_used_ratio{{{CN}}}", "percentunit", legend="{{instance}} {{namespace}}"),
        panel("table", "Objects and buckets", [f"emcecs_namespace_total_objects{{{CN}}}", f"emcecs_buckets{{{CN}}}"]),
        row("Users"),
        panel("bargauge", "IAM users per tenant", f"sum by (instance, namespace) (emcecs_iam_users{{{CN}}})", legend="{{instance}} {{namespace}}", w=12),
        panel("bargauge", "Active IAM users per tenant", f"sum by (instance, namespace) (emcecs_iam_users_active{{{CN}}})", legend="{{instance}} {{namespace}}", w=12),
        row("Operations"),
        panel("timeseries", "Requests by namespace", f"sum by (instance, namespace) (emcecs_namespace_request_rate_per_second{{{CN}}})", "reqps", legend="{{instance}} {{namespace}}"),
        panel("timeseries", "Errors by namespace", f"sum by (instance, namespace) (emcecs_namespace_error_rate_per_second{{{CN}}})", "reqps", legend="{{instance}} {{namespace}}"),
        panel("timeseries", "Traffic by namespace", [f"rate(emcecs_namespace_ingress_bytes_total{{{CN}}}[$__rate_interval])", f"rate(emcecs_namespace_egress_bytes_total{{{CN}}}[$__rate_interval])"], "Bps"),
        row("IAM health by tenant"),
        panel("bargauge", "Over-privileged users and roles", f"instance_namespace:emcecs_iam_overprivileged:count{{{CN}}}", legend="{{instance}} {{namespace}}"),
        panel("bargauge", "Access keys by status", f"emcecs_iam_access_keys{{{CN}}}", legend="{{namespace}} {{status}}"),
        panel("bargauge", "IAM roles and groups", [f"emcecs_iam_roles{{{CN}}}", f"emcecs_iam_groups{{{CN}}}"]),
    ],
)

SECURITY = dashboard(
    "ecs-security",
    "ECS / Security",
    "IAM activity, dormant users, aged keys, over-privileged entities, authentication providers and privileged operations from the audit events (docs/SECURITY.md, docs/AUDIT.md).",
    [
        row("Users"),
        panel("stat", "Active IAM users", f"sum by (instance) (emcecs_iam_users_active{{{CN}}})", w=6, legend="{{instance}}"),
        panel("stat", "Inactive > 90 days", f"sum by (instance) (instance_namespace:emcecs_iam_users_dormant:count{{{CN}}})", w=6, legend="{{instance}}"),
        panel("stat", "Active keys older than 90 days", f"sum by (instance) (instance_namespace:emcecs_iam_keys_aged:count{{{CN}}})", w=6, legend="{{instance}}"),
        panel("bargauge", "Management users by role", f"emcecs_management_users{{{C}}}", w=6, legend="{{instance}} {{role}}"),
        panel("table", "Users inactive for more than 90 days", f"emcecs_iam_users_inactive_days{{{CN}}} > 90", "d", w=12),
        panel("table", "Active access keys by age", f"sort_desc(emcecs_iam_credential_age_days{{{CN}, status=\"active\"}})", "d", w=12),
        row("Privileges"),
        panel("table", "Over-privileged users and roles", f"emcecs_iam_overprivileged_entity{{{CN}}}", w=16),
        panel("bargauge", "Over-privileged by tenant", f"instance_namespace:emcecs_iam_overprivileged:count{{{CN}}}", w=8, legend="{{instance}} {{namespace}}"),
        row("Authentication providers"),
        panel("table", "Provider servers answering", f"emcecs_auth_provider_available{{{C}}}", w=12),
        panel("timeseries", "Probe response time", f"emcecs_auth_provider_response_time_seconds{{{C}}}", "s", w=12, legend="{{provider}} {{server}}"),
        row("Audit events"),
        panel("bargauge", "Privileged operations in the last hour", f"sum by (namespace, operation) (instance_namespace_operation:emcecs_privileged_operations:increase1h{{{CN}}})", w=12, legend="{{namespace}} {{operation}}"),
        panel("timeseries", "Audit events", f"sum by (namespace, event_type) (increase(emcecs_audit_events_total{{{CN}}}[$__rate_interval]))", w=12, legend="{{namespace}} {{event_type}}"),
        panel("stat", "Audit collector lag", f"emcecs_audit_lag_seconds{{{C}}}", "s", w=6, legend="{{instance}}"),
    ],
)

DASHBOARDS = {
    "operations.json": OPERATIONS,
    "cost.json": COST,
    "multi-tenant.json": TENANTS,
    "security.json": SECURITY,
}


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for name, dash in DASHBOARDS.items():
        text = json.dumps(dash, indent=2) + "\n"
        path = OUT / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
    if stale:
        print("out of date (run python3 deploy/grafana/generate.py): " + ", ".join(stale), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
