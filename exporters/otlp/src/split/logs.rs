//! Logs requests cut the way metrics ones are: by whole log records, in order, each request
//! under the size limit (a record larger than the limit still goes, alone), and a batch's
//! records copied one request at a time.

use pipeline::otlp::collector::logs::v1::ExportLogsServiceRequest;
use pipeline::otlp::logs::v1::{ResourceLogs, ScopeLogs};
use prost::Message;

use super::{FIELD_OVERHEAD, take};

pub struct LogsSplitter<'a> {
    rls: &'a [ResourceLogs],
    max: usize,
    rl: usize,
    sl: usize,
    rec: usize,
}

impl<'a> LogsSplitter<'a> {
    pub fn new(rls: &'a [ResourceLogs], max_bytes: usize) -> Self {
        Self {
            rls,
            max: max_bytes,
            rl: 0,
            sl: 0,
            rec: 0,
        }
    }
}

impl Iterator for LogsSplitter<'_> {
    type Item = ExportLogsServiceRequest;

    fn next(&mut self) -> Option<Self::Item> {
        let mut out: Vec<ResourceLogs> = Vec::new();
        let mut last: Option<(usize, usize)> = None;
        let mut size = 0usize;
        while let Some(r) = self.rls.get(self.rl) {
            let Some(s) = r.scope_logs.get(self.sl) else {
                (self.rl, self.sl, self.rec) = (self.rl + 1, 0, 0);
                continue;
            };
            if self.rec >= s.log_records.len() {
                (self.sl, self.rec) = (self.sl + 1, 0);
                continue;
            }
            let new_rl = last.is_none_or(|(rl, _)| rl != self.rl);
            let new_sl = new_rl || last.is_some_and(|(_, sl)| sl != self.sl);
            let mut overhead = 0;
            if new_rl {
                overhead += r.resource.as_ref().map_or(0, Message::encoded_len)
                    + r.schema_url.len()
                    + 3 * FIELD_OVERHEAD;
            }
            if new_sl {
                overhead += s.scope.as_ref().map_or(0, Message::encoded_len)
                    + s.schema_url.len()
                    + 3 * FIELD_OVERHEAD;
            }
            let budget = self.max.saturating_sub(size + overhead);
            let (records, part_size) = take(&s.log_records, self.rec, budget, out.is_empty());
            if records.is_empty() {
                break;
            }
            if new_rl {
                out.push(ResourceLogs {
                    resource: r.resource.clone(),
                    scope_logs: Vec::new(),
                    schema_url: r.schema_url.clone(),
                });
            }
            let rl_out = out.last_mut()?;
            if new_sl {
                rl_out.scope_logs.push(ScopeLogs {
                    scope: s.scope.clone(),
                    log_records: Vec::new(),
                    schema_url: s.schema_url.clone(),
                });
            }
            self.rec += records.len();
            rl_out.scope_logs.last_mut()?.log_records.extend(records);
            last = Some((self.rl, self.sl));
            size += overhead + part_size;
        }
        (!out.is_empty()).then_some(ExportLogsServiceRequest { resource_logs: out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::otlp::common::v1::{AnyValue, any_value};
    use pipeline::otlp::logs::v1::LogRecord;
    use pipeline::{kv, resource, scope};

    fn record(i: usize) -> LogRecord {
        LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(format!(
                    "bucket-{i:06} policy changed by user admin-{i}"
                ))),
            }),
            attributes: vec![
                kv("event.name", "bucket.policy.changed"),
                kv("namespace", "ns"),
            ],
            ..Default::default()
        }
    }

    /// Two resources, the first with two scopes: records numbered across all of them.
    fn logs(per_scope: usize) -> Vec<ResourceLogs> {
        let scope_logs = |from: usize| ScopeLogs {
            scope: Some(scope("audit", "1")),
            log_records: (from..from + per_scope).map(record).collect(),
            schema_url: String::new(),
        };
        vec![
            ResourceLogs {
                resource: Some(resource([kv("service.name", "a")])),
                scope_logs: vec![scope_logs(0), scope_logs(per_scope)],
                schema_url: String::new(),
            },
            ResourceLogs {
                resource: Some(resource([kv("service.name", "b")])),
                scope_logs: vec![scope_logs(2 * per_scope)],
                schema_url: String::new(),
            },
        ]
    }

    /// Every record of the requests, with the resource it went under, in order.
    fn records(reqs: &[ExportLogsServiceRequest]) -> Vec<(String, u64)> {
        reqs.iter()
            .flat_map(|r| &r.resource_logs)
            .flat_map(|rl| {
                let res = format!("{:?}", rl.resource);
                rl.scope_logs
                    .iter()
                    .flat_map(|sl| &sl.log_records)
                    .map(move |lr| (res.clone(), lr.time_unix_nano))
            })
            .collect()
    }

    #[test]
    fn a_small_batch_is_one_request() {
        let rls = logs(3);
        let reqs: Vec<_> = LogsSplitter::new(&rls, 4 << 20).collect();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].resource_logs, rls);
    }

    #[test]
    fn a_large_batch_is_cut_under_the_limit_without_losing_or_reordering_records() {
        let rls = logs(10_000);
        let whole = ExportLogsServiceRequest {
            resource_logs: rls.clone(),
        }
        .encoded_len();
        let limit = 128 * 1024;
        let reqs: Vec<_> = LogsSplitter::new(&rls, limit).collect();
        assert!(
            reqs.len() >= whole / limit,
            "{} requests for {whole} bytes",
            reqs.len()
        );
        for r in &reqs {
            assert!(
                r.encoded_len() <= limit,
                "request of {} bytes",
                r.encoded_len()
            );
            for rl in &r.resource_logs {
                assert!(rl.resource.is_some());
                for sl in &rl.scope_logs {
                    assert_eq!(sl.scope, Some(scope("audit", "1")));
                    assert!(!sl.log_records.is_empty());
                }
            }
        }
        assert_eq!(
            records(&reqs),
            records(&[ExportLogsServiceRequest { resource_logs: rls }])
        );
    }

    #[test]
    fn a_record_larger_than_the_limit_still_goes_alone() {
        let rls = logs(2);
        let reqs: Vec<_> = LogsSplitter::new(&rls, 10).collect();
        assert_eq!(reqs.len(), 6);
        assert!(
            reqs.iter()
                .all(|r| records(std::slice::from_ref(r)).len() == 1)
        );
    }

    #[test]
    fn no_records_no_request() {
        let mut rls = logs(0);
        rls.push(ResourceLogs::default());
        assert_eq!(LogsSplitter::new(&rls, 4 << 20).count(), 0);
        assert_eq!(LogsSplitter::new(&[], 4 << 20).count(), 0);
    }
}
