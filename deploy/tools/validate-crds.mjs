// Reads a JSON list of Kubernetes objects on stdin and validates every ServiceMonitor and
// PrometheusRule against the Prometheus Operator's CRD schema (monitoring.coreos.com/v1,
// as @kubernetes-models/prometheus-operator generates it from the published CRDs).
// Prints one line per object; exits 1 on the first list with an invalid object.
import { readFileSync } from "node:fs";
import { PrometheusRule, ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";

const kinds = { PrometheusRule, ServiceMonitor };
const objects = JSON.parse(readFileSync(0, "utf8"));
let failed = false;
let checked = 0;
for (const o of objects) {
  const Kind = kinds[o.kind];
  if (!Kind || o.apiVersion !== "monitoring.coreos.com/v1") continue;
  try {
    new Kind(o).validate();
    console.log(`valid ${o.kind}/${o.metadata.name}`);
  } catch (e) {
    failed = true;
    console.log(`INVALID ${o.kind}/${o.metadata.name}: ${e.message}`);
  }
  checked += 1;
}
if (checked === 0) {
  console.log("no ServiceMonitor or PrometheusRule in the input");
  failed = true;
}
process.exit(failed ? 1 : 0);
