//! Flux queries and their JSON answers. An answer is columnar: `Columns` name the values
//! of each row of `Values`, in an order that differs by measurement (so every column is
//! found by name), every value is a string, and an empty result is one series whose
//! three members are `null`.

use std::time::Duration;

use serde_json::Value;

/// One measurement read per query: combining measurements in one query drops tags on real
/// clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    pub bucket: &'static str,
    pub measurement: &'static str,
    /// Tag columns kept on each row, in this order.
    pub tags: &'static [&'static str],
}

impl Query {
    /// The Flux text asking for the last `window` (relative to ECS's own clock, so that a
    /// skew between the agent's clock and the cluster's does not matter).
    pub fn text(&self, window: Duration) -> String {
        format!(
            "from(bucket: \"{}\") |> range(start: -{}s) |> filter(fn: (r) => r._measurement == \"{}\")",
            self.bucket,
            window.as_secs().max(1),
            self.measurement
        )
    }
}

/// One point of a series: its time (Unix seconds), field, value and tags (as the query's
/// `tags`; an absent column reads as "").
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub time: i64,
    pub field: String,
    pub value: f64,
    pub tags: Vec<String>,
}

impl Row {
    /// The row's series: its tags and field.
    pub fn series_key(&self) -> String {
        let mut k = self.tags.join("\u{1f}");
        k.push('\u{1e}');
        k.push_str(&self.field);
        k
    }
}

/// What an answer held: its rows, and how many rows were unusable (a value or time that
/// does not parse).
#[derive(Debug, Default)]
pub struct Table {
    pub rows: Vec<Row>,
    pub skipped: usize,
}

/// Why an answer could not be read.
#[derive(Debug)]
pub enum Unreadable {
    /// Not JSON (or cut short).
    Json(serde_json::Error),
    /// JSON, but not the shape of a Flux answer: what is wrong with it.
    Shape(String),
}

/// Reads an answer's bytes.
pub fn read(body: &[u8], tags: &[&str]) -> Result<Table, Unreadable> {
    let v: Value = serde_json::from_slice(body).map_err(Unreadable::Json)?;
    parse(&v, tags).map_err(Unreadable::Shape)
}

/// Reads an answer. `Err` names what is wrong with its shape.
pub fn parse(answer: &Value, tags: &[&str]) -> Result<Table, String> {
    let series = answer
        .get("Series")
        .and_then(Value::as_array)
        .ok_or("no \"Series\" array")?;
    let mut table = Table::default();
    for (i, s) in series.iter().enumerate() {
        let (columns, values) = match (s.get("Columns"), s.get("Values")) {
            // The empty result.
            (None | Some(Value::Null), None | Some(Value::Null)) => continue,
            (Some(Value::Array(c)), Some(Value::Array(v))) => (c, v),
            (Some(Value::Array(_)), None | Some(Value::Null)) => continue,
            _ => return Err(format!("Series[{i}]: Columns and Values must be arrays")),
        };
        let names: Vec<&str> = columns.iter().map(|c| c.as_str().unwrap_or("")).collect();
        let find = |name: &str| names.iter().position(|n| *n == name);
        let (Some(time), Some(value), Some(field)) =
            (find("_time"), find("_value"), find("_field"))
        else {
            return Err(format!(
                "Series[{i}]: a column among _time, _value, _field is missing (columns: {})",
                names.join(", ")
            ));
        };
        let tag_cols: Vec<Option<usize>> = tags.iter().map(|t| find(t)).collect();
        for row in values {
            let Some(row) = row.as_array() else {
                table.skipped += 1;
                continue;
            };
            match read_row(row, time, value, field, &tag_cols) {
                Some(r) => table.rows.push(r),
                None => table.skipped += 1,
            }
        }
    }
    Ok(table)
}

fn read_row(
    row: &[Value],
    time: usize,
    value: usize,
    field: usize,
    tags: &[Option<usize>],
) -> Option<Row> {
    let cell = |i: usize| row.get(i).and_then(Value::as_str);
    let value = match row.get(value)? {
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        // All values are strings on the clusters seen so far; a number is taken as is.
        Value::Number(n) => n.as_f64()?,
        _ => return None,
    };
    if !value.is_finite() {
        return None;
    }
    Some(Row {
        time: pipeline::timefmt::parse_minute(cell(time)?)?,
        field: cell(field)?.to_owned(),
        value,
        tags: tags
            .iter()
            .map(|c| c.and_then(cell).unwrap_or("").to_owned())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_are_found_by_name_whatever_their_order() {
        let a = json!({"Series":[{"Datatypes":["string","double","dateTime:RFC3339","string","long"],
            "Columns":["head","_value","_time","_field","table"],
            "Values":[["S3","12.5","2026-11-30T05:01:00Z","succeed_request_counter","0"],
                      ["SWIFT","x","2026-11-30T05:01:00Z","succeed_request_counter","1"]]}]});
        let t = parse(&a, &["head", "method"]).unwrap();
        assert_eq!(t.skipped, 1);
        assert_eq!(
            t.rows,
            vec![Row {
                time: pipeline::timefmt::parse_minute("2026-11-30T05:01").unwrap(),
                field: "succeed_request_counter".into(),
                value: 12.5,
                tags: vec!["S3".into(), String::new()],
            }]
        );
    }

    #[test]
    fn the_empty_answer_is_no_rows() {
        let a = json!({"Series":[{"Datatypes":null,"Columns":null,"Values":null}]});
        let t = parse(&a, &[]).unwrap();
        assert!(t.rows.is_empty());
        assert_eq!(t.skipped, 0);
    }

    #[test]
    fn a_wrong_shape_is_named() {
        assert!(parse(&json!({}), &[]).unwrap_err().contains("Series"));
        let e = parse(
            &json!({"Series":[{"Columns":["_time","_value"],"Values":[]}]}),
            &[],
        )
        .unwrap_err();
        assert!(e.contains("_field"), "{e}");
        assert!(parse(&json!({"Series":[{"Columns":"x","Values":[]}]}), &[]).is_err());
    }

    #[test]
    fn the_query_asks_for_one_measurement_over_a_relative_window() {
        let q = Query {
            bucket: "monitoring_vdc",
            measurement: "cq_performance_error",
            tags: &[],
        };
        assert_eq!(
            q.text(Duration::from_secs(120)),
            "from(bucket: \"monitoring_vdc\") |> range(start: -120s) |> filter(fn: (r) => r._measurement == \"cq_performance_error\")"
        );
    }
}
