//! Flux queries and their JSON answers. An answer is columnar: `Columns` name the values
//! of each row of `Values`, in an order that differs by measurement (so every column is
//! found by name), every value is a string, and an empty result is one series whose
//! three members are `null`.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use pull::read::typed::Scalar;
use serde::de::{
    Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

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

/// Reads an answer's bytes straight into rows: each row of `Values` becomes a [`Row`] as
/// it is read, when `Columns` came before it (as ECS writes them), so that no tree of the
/// answer (several times its size: an hour of a per-namespace measurement is ~22 MB) is
/// ever held. `Unreadable::Shape` names what is wrong with its shape.
pub fn read(body: &[u8], tags: &[&str]) -> Result<Table, Unreadable> {
    let mut reader = serde_json::Deserializer::from_slice(body);
    let series: Option<Vec<Series<'_>>> = AnswerSeed { tags }
        .deserialize(&mut reader)
        .and_then(|s| reader.end().map(|_| s))
        .map_err(Unreadable::Json)?;
    let series = series.ok_or_else(|| Unreadable::Shape("no \"Series\" array".into()))?;
    let mut table = Table::default();
    for (i, s) in series.into_iter().enumerate() {
        let (columns, values) = match (s.columns, s.values) {
            // The empty result.
            (Slot::Null, Slot::Null) => continue,
            (Slot::Array(c), Slot::Array(v)) => (c, v),
            (Slot::Array(_), Slot::Null) => continue,
            _ => {
                return Err(Unreadable::Shape(format!(
                    "Series[{i}]: Columns and Values must be arrays"
                )));
            }
        };
        let at = match positions(&columns, tags) {
            Ok(at) => at,
            Err(names) => {
                return Err(Unreadable::Shape(format!(
                    "Series[{i}]: a column among _time, _value, _field is missing (columns: {names})"
                )));
            }
        };
        match values {
            Values::Read(t) => {
                // Moved, not copied: the rows may be most of the answer.
                if table.rows.is_empty() {
                    table.rows = t.rows;
                } else {
                    table.rows.extend(t.rows);
                }
                table.skipped += t.skipped;
            }
            Values::Held(rows) => {
                for row in rows {
                    match row.and_then(|cells| at.row(&cells)) {
                        Some(r) => table.rows.push(r),
                        None => table.skipped += 1,
                    }
                }
            }
        }
    }
    Ok(table)
}

/// Where a series' columns are.
#[derive(Debug, Clone)]
struct Positions {
    time: usize,
    value: usize,
    field: usize,
    tags: Vec<Option<usize>>,
}

/// The positions of the columns read, or the columns' names when one is missing.
fn positions(columns: &[Cell<'_>], tags: &[&str]) -> Result<Positions, String> {
    let names: Vec<&str> = columns.iter().map(|c| c.as_str().unwrap_or("")).collect();
    let find = |name: &str| names.iter().position(|n| *n == name);
    match (find("_time"), find("_value"), find("_field")) {
        (Some(time), Some(value), Some(field)) => Ok(Positions {
            time,
            value,
            field,
            tags: tags.iter().map(|t| find(t)).collect(),
        }),
        _ => Err(names.join(", ")),
    }
}

impl Positions {
    fn row(&self, row: &[Cell<'_>]) -> Option<Row> {
        let cell = |i: usize| row.get(i).and_then(Cell::as_str);
        let value = match row.get(self.value)? {
            Cell::Str(s) => s.trim().parse::<f64>().ok()?,
            // All values are strings on the clusters seen so far; a number is taken as is.
            Cell::Num(n) => *n,
            Cell::Other => return None,
        };
        if !value.is_finite() {
            return None;
        }
        Some(Row {
            time: pipeline::timefmt::parse_minute(cell(self.time)?)?,
            field: cell(self.field)?.to_owned(),
            value,
            tags: self
                .tags
                .iter()
                .map(|c| c.and_then(cell).unwrap_or("").to_owned())
                .collect(),
        })
    }
}

/// A cell of `Columns` or `Values`: a string (borrowed from the answer when it has no
/// escapes), a number, or anything else.
#[derive(Debug)]
enum Cell<'a> {
    Str(Cow<'a, str>),
    Num(f64),
    Other,
}

impl Cell<'_> {
    fn as_str(&self) -> Option<&str> {
        match self {
            Cell::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Cell<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Scalar::deserialize(d)? {
            Scalar::Str(s) => Cell::Str(s),
            Scalar::U64(u) => Cell::Num(u as f64),
            Scalar::I64(i) => Cell::Num(i as f64),
            Scalar::F64(f) => Cell::Num(f),
            _ => Cell::Other,
        })
    }
}

/// `Columns` or `Values`: absent or `null`, an array, or anything else.
enum Slot<T> {
    Null,
    Array(T),
    Other,
}

/// The rows of `Values`: read into rows as they came (the columns were known), or held
/// as cells until the columns are (`None`: a row that is not an array).
enum Values {
    Read(Table),
    Held(Vec<Option<Vec<Cell<'static>>>>),
}

struct Series<'de> {
    columns: Slot<Vec<Cell<'de>>>,
    values: Slot<Values>,
}

struct AnswerSeed<'t> {
    tags: &'t [&'t str],
}

impl<'de> DeserializeSeed<'de> for AnswerSeed<'_> {
    /// The series, or `None` when there is no `Series` array.
    type Value = Option<Vec<Series<'de>>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AnswerSeed<'_> {
    type Value = Option<Vec<Series<'de>>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Flux answer")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut series = None;
        while let Some(k) = map.next_key::<Cow<'de, str>>()? {
            if k == "Series" {
                series = map.next_value_seed(SeriesListSeed { tags: self.tags })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(series)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    pull::visit_scalars_as!(Ok(None));
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

struct SeriesListSeed<'t> {
    tags: &'t [&'t str],
}

impl<'de> DeserializeSeed<'de> for SeriesListSeed<'_> {
    type Value = Option<Vec<Series<'de>>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SeriesListSeed<'_> {
    type Value = Option<Vec<Series<'de>>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of series")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(s) = seq.next_element_seed(SeriesSeed { tags: self.tags })? {
            out.push(s);
        }
        Ok(Some(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    pull::visit_scalars_as!(Ok(None));
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

struct SeriesSeed<'t> {
    tags: &'t [&'t str],
}

impl<'de> DeserializeSeed<'de> for SeriesSeed<'_> {
    type Value = Series<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// A series that is not an object has neither member: the empty result.
fn no_series<'de, E>() -> Result<Series<'de>, E> {
    Ok(Series {
        columns: Slot::Null,
        values: Slot::Null,
    })
}

impl<'de> Visitor<'de> for SeriesSeed<'_> {
    type Value = Series<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a series")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut s = Series {
            columns: Slot::Null,
            values: Slot::Null,
        };
        while let Some(k) = map.next_key::<Cow<'de, str>>()? {
            match k.as_ref() {
                "Columns" => s.columns = map.next_value::<SlotOf<Vec<Cell<'de>>>>()?.0,
                "Values" => {
                    let at = match &s.columns {
                        Slot::Array(c) => positions(c, self.tags).ok(),
                        _ => None,
                    };
                    s.values = map.next_value_seed(ValuesSeed { at })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(s)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        no_series()
    }
    pull::visit_scalars_as!(no_series());
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        no_series()
    }
}

/// `Columns`: `null`, an array of cells, or anything else.
struct SlotOf<T>(Slot<T>);

impl<'de> Deserialize<'de> for SlotOf<Vec<Cell<'de>>> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SlotOf<Vec<Cell<'de>>>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the columns")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut cells = Vec::new();
                while let Some(c) = seq.next_element::<Cell<'de>>()? {
                    cells.push(c);
                }
                Ok(SlotOf(Slot::Array(cells)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(SlotOf(Slot::Other))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(SlotOf(Slot::Null))
            }
            pull::visit_scalars_as!(Ok(SlotOf(Slot::Other)));
        }
        d.deserialize_any(V)
    }
}

/// `Values`, read into rows when the columns' positions are known.
struct ValuesSeed {
    at: Option<Positions>,
}

impl<'de> DeserializeSeed<'de> for ValuesSeed {
    type Value = Slot<Values>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValuesSeed {
    type Value = Slot<Values>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        match self.at {
            Some(at) => {
                let mut t = Table::default();
                // One buffer of cells for every row: a row is read into it, then into a Row.
                while let Some(row) = seq.next_element::<RowCells<'de>>()? {
                    match row.0.and_then(|cells| at.row(&cells)) {
                        Some(r) => t.rows.push(r),
                        None => t.skipped += 1,
                    }
                }
                Ok(Slot::Array(Values::Read(t)))
            }
            None => {
                let mut held = Vec::new();
                while let Some(row) = seq.next_element::<RowCells<'de>>()? {
                    held.push(
                        row.0
                            .map(|cells| cells.into_iter().map(Cell::into_owned).collect()),
                    );
                }
                Ok(Slot::Array(Values::Held(held)))
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Slot::Other)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Slot::Null)
    }
    pull::visit_scalars_as!(Ok(Slot::Other));
}

impl Cell<'_> {
    fn into_owned(self) -> Cell<'static> {
        match self {
            Cell::Str(s) => Cell::Str(Cow::Owned(s.into_owned())),
            Cell::Num(n) => Cell::Num(n),
            Cell::Other => Cell::Other,
        }
    }
}

/// A row of `Values`: its cells, or `None` when it is not an array.
struct RowCells<'de>(Option<Vec<Cell<'de>>>);

impl<'de> Deserialize<'de> for RowCells<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RowCells<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a row")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut cells = Vec::with_capacity(seq.size_hint().unwrap_or(8));
                while let Some(c) = seq.next_element::<Cell<'de>>()? {
                    cells.push(c);
                }
                Ok(RowCells(Some(cells)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(RowCells(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(RowCells(None))
            }
            pull::visit_scalars_as!(Ok(RowCells(None)));
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn parse(v: &Value, tags: &[&str]) -> Result<Table, String> {
        read(v.to_string().as_bytes(), tags).map_err(|e| match e {
            Unreadable::Shape(s) => s,
            Unreadable::Json(e) => e.to_string(),
        })
    }

    #[test]
    fn values_before_columns_are_held_then_read() {
        let a = br#"{"Series":[{"Values":[["12.5","2026-11-30T05:01:00Z","f","S3"],"x",[1]],"Columns":["_value","_time","_field","head"]}]}"#;
        let t = read(a, &["head"]).unwrap();
        assert_eq!(t.rows.len(), 1);
        assert_eq!(t.rows[0].tags, ["S3"]);
        assert_eq!(t.skipped, 2);
        assert!(matches!(
            read(b"{\"Series\":", &[]),
            Err(Unreadable::Json(_))
        ));
        assert!(matches!(read(b"[1]", &[]), Err(Unreadable::Shape(_))));
    }

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
