//! OTel → Prometheus names, per the OpenTelemetry compatibility specification
//! ("OTLP Metric points to Prometheus"): invalid characters become `_`, runs of `_` become
//! one, UCUM units become Prometheus unit words appended as a suffix (unless the name
//! already contains them), and monotonic sums get `_total`.

use std::borrow::Cow;

/// The Prometheus type a metric family is exposed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FamilyKind {
    Gauge,
    Counter,
    Histogram,
    Summary,
    /// `target_info`: an OpenMetrics info metric, a gauge of 1 in the text format.
    Info,
}

impl FamilyKind {
    pub fn text_type(self) -> &'static str {
        match self {
            FamilyKind::Gauge | FamilyKind::Info => "gauge",
            FamilyKind::Counter => "counter",
            FamilyKind::Histogram => "histogram",
            FamilyKind::Summary => "summary",
        }
    }

    pub fn openmetrics_type(self) -> &'static str {
        match self {
            FamilyKind::Info => "info",
            other => other.text_type(),
        }
    }
}

/// Names of one family: the text format names a counter family by its sample name
/// (`x_total`), OpenMetrics by the name without the suffix (`x`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyName {
    pub text: String,
    pub openmetrics: String,
    /// The Prometheus unit word (`bytes`), empty when the metric has none.
    pub unit: String,
}

/// Replaces every character outside `[a-zA-Z0-9_:]` with `_`, collapses runs of `_`, and
/// prefixes `_` when the name would start with a digit.
pub fn sanitize_metric_name(name: &str) -> String {
    sanitize(name, true)
}

/// The same for label names, where `:` is not allowed either; a leading digit gets the
/// `key_` prefix that the Collector uses.
pub fn sanitize_label_name(name: &str) -> Cow<'_, str> {
    if is_valid_label_name(name) {
        return Cow::Borrowed(name);
    }
    let s = sanitize(name, false);
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        Cow::Owned(format!("key_{s}"))
    } else {
        Cow::Owned(s)
    }
}

fn is_valid_label_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && !b[0].is_ascii_digit()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        && !name.contains("__")
}

fn sanitize(name: &str, allow_colon: bool) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    for c in name.chars() {
        let ok = c.is_ascii_alphanumeric() || c == '_' || (allow_colon && c == ':');
        let c = if ok { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    if out.is_empty() {
        out.push('_');
    }
    if allow_colon && out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The Prometheus unit word for a UCUM unit: `By` → `bytes`, `By/s` → `bytes_per_second`,
/// `{packet}` → nothing, `1` → `ratio` for gauges only.
pub fn unit_word(unit: &str, kind: FamilyKind) -> String {
    let unit = strip_annotations(unit);
    let unit = unit.trim();
    if unit.is_empty() {
        return String::new();
    }
    if unit == "1" {
        return if kind == FamilyKind::Gauge {
            "ratio".into()
        } else {
            String::new()
        };
    }
    let word = match unit.split_once('/') {
        Some((main, per)) => {
            let main = main_unit(main.trim());
            let per = per_unit(per.trim());
            match (main.is_empty(), per.is_empty()) {
                (_, true) => main,
                (true, false) => format!("per_{per}"),
                (false, false) => format!("{main}_per_{per}"),
            }
        }
        None => main_unit(unit),
    };
    let word = sanitize(&word, false);
    word.trim_matches('_').to_owned()
}

fn strip_annotations(unit: &str) -> Cow<'_, str> {
    if !unit.contains('{') {
        return Cow::Borrowed(unit);
    }
    let mut out = String::with_capacity(unit.len());
    let mut depth = 0usize;
    for c in unit.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    Cow::Owned(out)
}

fn main_unit(u: &str) -> String {
    let word = match u {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "bit" => "bits",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        "1" => "",
        other => other,
    };
    word.to_owned()
}

fn per_unit(u: &str) -> String {
    let word = match u {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    };
    word.to_owned()
}

/// True when `unit` appears in `name` as whole `_`-separated words.
fn contains_words(name: &str, unit: &str) -> bool {
    let padded = format!("_{name}_");
    padded.contains(&format!("_{unit}_"))
}

/// The family names of an OTLP metric.
pub fn family_name(metric: &str, unit: &str, kind: FamilyKind, add_suffixes: bool) -> FamilyName {
    let mut base = sanitize_metric_name(metric);
    let unit = unit_word(unit, kind);
    if add_suffixes && !unit.is_empty() && !contains_words(&base, &unit) {
        if !base.ends_with('_') {
            base.push('_');
        }
        base.push_str(&unit);
    }
    match kind {
        FamilyKind::Counter => {
            let stem = base.strip_suffix("_total").unwrap_or(&base).to_owned();
            let text = if add_suffixes && !base.ends_with("_total") {
                format!("{base}_total")
            } else {
                base.clone()
            };
            FamilyName {
                text,
                openmetrics: stem,
                unit,
            }
        }
        _ => FamilyName {
            text: base.clone(),
            openmetrics: base,
            unit,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(metric: &str, unit: &str, kind: FamilyKind) -> String {
        family_name(metric, unit, kind, true).text
    }

    #[test]
    fn examples_from_the_specification_and_the_collector() {
        use FamilyKind::*;
        assert_eq!(
            text("system.filesystem.usage", "By", Gauge),
            "system_filesystem_usage_bytes"
        );
        assert_eq!(
            text("system.network.dropped", "{packets}", Counter),
            "system_network_dropped_total"
        );
        assert_eq!(
            text("system.network.dropped", "packets", Gauge),
            "system_network_dropped_packets"
        );
        assert_eq!(
            text("system.memory.utilization", "1", Gauge),
            "system_memory_utilization_ratio"
        );
        assert_eq!(
            text("system.cpu.utilization", "1", Counter),
            "system_cpu_utilization_total"
        );
        assert_eq!(
            text("http.server.duration", "ms", Histogram),
            "http_server_duration_milliseconds"
        );
        assert_eq!(text("net.io", "By/s", Gauge), "net_io_bytes_per_second");
        assert_eq!(text("rate", "{req}/s", Gauge), "rate_per_second");
        assert_eq!(
            text("process.cpu.time", "s", Counter),
            "process_cpu_time_seconds_total"
        );
        assert_eq!(text("requests_total", "", Counter), "requests_total");
        assert_eq!(text("temp", "Cel", Gauge), "temp_celsius");
    }

    #[test]
    fn the_unit_is_not_repeated_when_the_name_has_it() {
        use FamilyKind::*;
        assert_eq!(
            text("emcecs.bucket.storage.bytes", "By", Gauge),
            "emcecs_bucket_storage_bytes"
        );
        assert_eq!(
            text("system.filesystem.bytes.used", "By", Gauge),
            "system_filesystem_bytes_used"
        );
        assert_eq!(text("a.bytesx", "By", Gauge), "a_bytesx_bytes");
    }

    #[test]
    fn counters_are_named_without_total_in_openmetrics() {
        let n = family_name("ingress", "By", FamilyKind::Counter, true);
        assert_eq!(n.text, "ingress_bytes_total");
        assert_eq!(n.openmetrics, "ingress_bytes");
        assert_eq!(n.unit, "bytes");
    }

    #[test]
    fn suffixes_can_be_turned_off() {
        let n = family_name("ingress", "By", FamilyKind::Counter, false);
        assert_eq!(n.text, "ingress");
    }

    #[test]
    fn invalid_characters() {
        assert_eq!(
            sanitize_metric_name("(lambda).function.executions(#)"),
            "_lambda_function_executions_"
        );
        assert_eq!(sanitize_metric_name("0xyz"), "_0xyz");
        assert_eq!(sanitize_metric_name("a:b.c"), "a:b_c");
        assert_eq!(sanitize_metric_name("a..b__c"), "a_b_c");
        assert_eq!(sanitize_label_name("http.status_code"), "http_status_code");
        assert_eq!(sanitize_label_name("a:b"), "a_b");
        assert_eq!(sanitize_label_name("0abc"), "key_0abc");
        assert_eq!(sanitize_label_name("__reserved"), "_reserved");
        assert_eq!(sanitize_label_name("ok_name"), "ok_name");
        assert!(matches!(sanitize_label_name("ok_name"), Cow::Borrowed(_)));
    }
}
