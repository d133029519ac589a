//! The Flux API's JSON answer: one element in `Series`, with parallel `Datatypes` and
//! `Columns`, and every cell of `Values` a string. Written straight into bytes: a large
//! answer has a hundred thousand rows, and a `serde_json::Value` tree of them costs more
//! than computing them.

use std::io::Write;

use super::query::Instant;
use crate::ids::hs;
use crate::model::perf::{Measurement, Series};
use crate::timefmt::iso;

/// No data: what ECS answers for an unknown measurement or an empty range.
pub const EMPTY: &[u8] = br#"{"Series":[{"Datatypes":null,"Columns":null,"Values":null}]}"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Table,
    Start,
    Stop,
    Time,
    Value,
    Field,
    Measurement,
    /// The measurement's n-th tag.
    Tag(usize),
}

impl Column {
    pub fn name(self, m: &Measurement) -> &'static str {
        match self {
            Column::Table => "table",
            Column::Start => "_start",
            Column::Stop => "_stop",
            Column::Time => "_time",
            Column::Value => "_value",
            Column::Field => "_field",
            Column::Measurement => "_measurement",
            Column::Tag(i) => m.tags.get(i).copied().unwrap_or(""),
        }
    }

    pub fn datatype(self, m: &Measurement) -> &'static str {
        match self {
            Column::Table => "long",
            Column::Start | Column::Stop | Column::Time => "dateTime:RFC3339",
            Column::Value => m.value_type(),
            _ => "string",
        }
    }
}

/// The measurement's columns in the order its answers list them: a fixed permutation per
/// measurement (clients must map by name), reversed when `reorder` asks for yet another.
pub fn columns(m: &Measurement, reorder: bool) -> Vec<Column> {
    let mut cols = vec![
        Column::Table,
        Column::Start,
        Column::Stop,
        Column::Time,
        Column::Value,
        Column::Field,
        Column::Measurement,
    ];
    cols.extend((0..m.tags.len()).map(Column::Tag));
    cols.sort_by_key(|c| hs(0xF1C5, &format!("{}/{}", m.name, c.name(m))));
    if reorder {
        cols.reverse();
    }
    cols
}

/// `2026-11-30T05:00:00.000000000Z`: a query bound.
pub fn bound(i: Instant) -> String {
    let s = iso(i.secs);
    format!("{}.{:09}Z", s.trim_end_matches('Z'), i.nanos)
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn list(out: &mut Vec<u8>, items: impl Iterator<Item = String>) {
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item.as_bytes());
    }
    out.push(b']');
}

/// The answer for `series` at `times`, `values` time-major (`values[i * series + s]`).
/// Rows are sorted by table, then time.
pub fn write(
    m: &Measurement,
    series: &[Series],
    times: &[i64],
    values: &[f64],
    start: Instant,
    stop: Instant,
    reorder: bool,
) -> Vec<u8> {
    if series.is_empty() || times.is_empty() || values.len() != series.len() * times.len() {
        return EMPTY.to_vec();
    }
    let cols = columns(m, reorder);
    let measurement = quoted(m.name);
    let (start, stop) = (quoted(&bound(start)), quoted(&bound(stop)));
    let stamps: Vec<String> = times.iter().map(|&t| quoted(&iso(t))).collect();
    let row_len = 40 + stamps.first().map_or(0, String::len) * 3 + measurement.len() * 2;
    let mut out = Vec::with_capacity(128 + series.len() * times.len() * row_len);
    out.extend_from_slice(br#"{"Series":[{"Datatypes":"#);
    list(&mut out, cols.iter().map(|c| quoted(c.datatype(m))));
    out.extend_from_slice(br#","Columns":"#);
    list(&mut out, cols.iter().map(|c| quoted(c.name(m))));
    out.extend_from_slice(br#","Values":["#);
    let width = series.len();
    for (table, s) in series.iter().enumerate() {
        // Cells that are the same on every row of the table, encoded once.
        let fixed: Vec<Option<String>> = cols
            .iter()
            .map(|c| match c {
                Column::Table => Some(format!("\"{table}\"")),
                Column::Start => Some(start.clone()),
                Column::Stop => Some(stop.clone()),
                Column::Field => Some(quoted(s.field)),
                Column::Measurement => Some(measurement.clone()),
                Column::Tag(i) => Some(quoted(s.tags.get(*i).map_or("", String::as_str))),
                Column::Time | Column::Value => None,
            })
            .collect();
        for (i, stamp) in stamps.iter().enumerate() {
            if table > 0 || i > 0 {
                out.push(b',');
            }
            out.push(b'[');
            for (k, (c, cell)) in cols.iter().zip(&fixed).enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                match (c, cell) {
                    (_, Some(cell)) => out.extend_from_slice(cell.as_bytes()),
                    (Column::Time, None) => out.extend_from_slice(stamp.as_bytes()),
                    _ => {
                        // Writing into a Vec cannot fail.
                        let _ = write!(out, "\"{}\"", values[i * width + table]);
                    }
                }
            }
            out.push(b']');
        }
    }
    out.extend_from_slice(b"]}]}");
    out
}
