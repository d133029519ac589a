//! Lenient reading of large JSON answers straight into typed structures, with no
//! `serde_json::Value` tree in between (a tree costs several times the answer's bytes).
//! The field types here accept whatever JSON a field holds and keep what the [`super::json`]
//! readers would make of it, so that a struct of them never fails on a field of an
//! unexpected shape: a number as a string, a list that is a single object, an object
//! where a number was expected (read as nothing, as the tree readers do). Strings borrow
//! from the answer where they have no escapes.
//!
//! A struct built from these types derives `Deserialize`; its fields are absent-able
//! (`#[serde(default)]`) because absence is what these types stand for ([`Scalar::Null`],
//! an empty [`List`], [`Seen::Absent`]): whether a collector can do without a field is
//! decided where the struct is read, as with the tree.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The visitor methods for the scalars a lenient reader does not want in a place (a bool,
/// a number or a string where an object or a list belongs): each answers `$ret`, the
/// "not this shape" value of its visitor, instead of failing the whole answer.
#[macro_export]
macro_rules! visit_scalars_as {
    ($ret:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            $ret
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            $ret
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            $ret
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            $ret
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            $ret
        }
    };
}

/// One JSON value as the lenient readers see it: a scalar, or `Other` for an object or an
/// array (skipped without being kept).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Scalar<'a> {
    #[default]
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(Cow<'a, str>),
    Other,
}

impl Scalar<'_> {
    fn as_f64(&self) -> Option<f64> {
        match *self {
            Scalar::U64(u) => Some(u as f64),
            Scalar::I64(i) => Some(i as f64),
            Scalar::F64(f) => Some(f),
            _ => None,
        }
    }

    /// As [`super::json::num`].
    pub fn num(&self) -> Option<f64> {
        match self {
            Scalar::Str(s) => {
                let s = s.trim();
                if s.is_empty() || s.eq_ignore_ascii_case("n/a") || s.eq_ignore_ascii_case("null") {
                    None
                } else {
                    s.parse::<f64>().ok().filter(|f| f.is_finite())
                }
            }
            Scalar::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            _ => self.as_f64(),
        }
    }

    /// As [`super::json::uint`].
    pub fn uint(&self) -> Option<u64> {
        match self {
            Scalar::U64(u) => return Some(*u),
            Scalar::I64(i) if *i >= 0 => return Some(*i as u64),
            Scalar::Str(s) => {
                if let Ok(u) = s.trim().parse::<u64>() {
                    return Some(u);
                }
            }
            _ => {}
        }
        self.num()
            .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19)
            .map(|f| f as u64)
    }

    /// As [`super::json::int`].
    pub fn int(&self) -> Option<i64> {
        match self {
            Scalar::I64(i) => return Some(*i),
            Scalar::U64(u) if i64::try_from(*u).is_ok() => return Some(*u as i64),
            Scalar::Str(s) => {
                if let Ok(i) = s.trim().parse::<i64>() {
                    return Some(i);
                }
            }
            _ => {}
        }
        self.num()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
            .map(|f| f as i64)
    }

    /// As [`super::json::text`]: a string, trimmed, not empty.
    pub fn text(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s.trim()).filter(|s| !s.is_empty()),
            _ => None,
        }
    }

    /// The string, untrimmed (as `Value::as_str`).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(if v >= 0 {
            Scalar::U64(v as u64)
        } else {
            Scalar::I64(v)
        })
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::U64(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::F64(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq).map(|_| Scalar::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        drain_map(map).map(|_| Scalar::Other)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

/// An object read as `T`, or `None` for any other JSON value (skipped). Keeps a struct
/// from reading an array as its fields in order, which derived structs otherwise accept.
#[derive(Debug, Clone, PartialEq)]
pub struct Obj<T>(pub Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

struct ObjVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
    type Value = Obj<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(|t| Obj(Some(t)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq).map(|_| Obj(None))
    }
    crate::visit_scalars_as!(Ok(Obj(None)));
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Obj(None))
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Obj(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjVisitor(PhantomData))
    }
}

/// As [`super::json::list`]: an array's items, a single object as a list of one, anything
/// else as no items. An item of an array that is not an object is `None` (the tree
/// readers find no field in it).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum List<T> {
    #[default]
    No,
    One(Box<T>),
    Many(Vec<Option<T>>),
}

impl<T> List<T> {
    /// The items that are objects.
    pub fn objects(&self) -> Box<dyn Iterator<Item = &T> + '_> {
        match self {
            List::No => Box::new(std::iter::empty()),
            List::One(t) => Box::new(std::iter::once(t.as_ref())),
            List::Many(items) => Box::new(items.iter().flatten()),
        }
    }

    /// Every item, `None` for those that are not objects.
    pub fn into_items(self) -> Vec<Option<T>> {
        match self {
            List::No => Vec::new(),
            List::One(t) => vec![Some(*t)],
            List::Many(items) => items,
        }
    }
}

struct ListVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
    type Value = List<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Obj(item)) = seq.next_element::<Obj<T>>()? {
            items.push(item);
        }
        Ok(List::Many(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(|t| List::One(Box::new(t)))
    }
    crate::visit_scalars_as!(Ok(List::No));
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(List::No)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(List::No)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor(PhantomData))
    }
}

/// A whole answer that is either a bare array of objects (`Array`, an item that is not
/// an object being `None`) or an object (`Object`); anything else is `Other`.
#[derive(Debug, Clone, PartialEq)]
pub enum ArrayOr<A, O> {
    Array(Vec<Option<A>>),
    Object(O),
    Other,
}

struct ArrayOrVisitor<A, O>(PhantomData<(A, O)>);

impl<'de, A: Deserialize<'de>, O: Deserialize<'de>> Visitor<'de> for ArrayOrVisitor<A, O> {
    type Value = ArrayOr<A, O>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut items = Vec::new();
        while let Some(Obj(item)) = seq.next_element::<Obj<A>>()? {
            items.push(item);
        }
        Ok(ArrayOr::Array(items))
    }
    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
        O::deserialize(MapAccessDeserializer::new(map)).map(ArrayOr::Object)
    }
    crate::visit_scalars_as!(Ok(ArrayOr::Other));
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(ArrayOr::Other)
    }
}

impl<'de, A: Deserialize<'de>, O: Deserialize<'de>> Deserialize<'de> for ArrayOr<A, O> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ArrayOrVisitor(PhantomData))
    }
}

/// Whether a key was in the object at all (even as `null`), and its value: what the
/// required-fields check of an answer asks.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Seen<T> {
    #[default]
    Absent,
    Present(T),
}

impl<T> Seen<T> {
    pub fn is_present(&self) -> bool {
        matches!(self, Seen::Present(_))
    }

    pub fn get(&self) -> Option<&T> {
        match self {
            Seen::Present(t) => Some(t),
            Seen::Absent => None,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Seen<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Seen::Present)
    }
}

/// An object read as `T`, with the number of keys it had (as `Map::len` counts them).
#[derive(Debug, Clone, PartialEq)]
pub struct Keyed<T> {
    pub value: T,
    pub keys: usize,
}

/// Counts the keys a map hands out.
struct Counting<A> {
    map: A,
    keys: usize,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Counting<A> {
    type Error = A::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let k = self.map.next_key_seed(seed)?;
        if k.is_some() {
            self.keys += 1;
        }
        Ok(k)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        self.map.next_value_seed(seed)
    }
}

struct KeyedVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for KeyedVisitor<T> {
    type Value = Keyed<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let mut counting = Counting { map, keys: 0 };
        let value = T::deserialize(MapAccessDeserializer::new(&mut counting))?;
        Ok(Keyed {
            value,
            keys: counting.keys,
        })
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Keyed<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(KeyedVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::json;
    use serde::Deserialize;
    use serde_json::{Value, json};

    fn scalar(v: &Value) -> Scalar<'static> {
        let text = v.to_string();
        let s: Scalar<'_> = serde_json::from_str(&text).unwrap();
        match s {
            Scalar::Str(c) => Scalar::Str(Cow::Owned(c.into_owned())),
            Scalar::Bool(b) => Scalar::Bool(b),
            Scalar::U64(u) => Scalar::U64(u),
            Scalar::I64(i) => Scalar::I64(i),
            Scalar::F64(f) => Scalar::F64(f),
            Scalar::Null => Scalar::Null,
            Scalar::Other => Scalar::Other,
        }
    }

    #[test]
    fn scalars_read_as_the_tree_readers_read_them() {
        for v in [
            json!("23000000"),
            json!("2.3e7"),
            json!(" 4 "),
            json!(4),
            json!(-4),
            json!(4.5),
            json!("N/A"),
            json!(""),
            json!(null),
            json!(true),
            json!("384.0"),
            json!("384.5"),
            json!("18446744073709551615"),
            json!(u64::MAX),
            json!(i64::MIN),
            json!([1, 2]),
            json!({"a": 1}),
            json!(" text "),
        ] {
            let s = scalar(&v);
            assert_eq!(s.num(), json::num(&v), "{v}");
            assert_eq!(s.uint(), json::uint(&v), "{v}");
            assert_eq!(s.int(), json::int(&v), "{v}");
            assert_eq!(s.text(), json::text(&v), "{v}");
            assert_eq!(s.as_str(), v.as_str(), "{v}");
        }
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item<'a> {
        #[serde(borrow, default)]
        name: Scalar<'a>,
    }

    #[test]
    fn lists_objects_and_presence() {
        let l: List<Item<'_>> = serde_json::from_str(r#"[{"name":"a"}, 3, {"x":1}]"#).unwrap();
        assert_eq!(l.objects().count(), 2);
        assert!(l.into_items()[1].is_none());
        let one: List<Item<'_>> = serde_json::from_str(r#"{"name":"a"}"#).unwrap();
        assert!(matches!(one, List::One(_)));
        let none: List<Item<'_>> = serde_json::from_str("\"x\"").unwrap();
        assert_eq!(none, List::No);
        let o: Obj<Item<'_>> = serde_json::from_str(r#"["a"]"#).unwrap();
        assert_eq!(o, Obj(None));
        let k: Keyed<Item<'_>> = serde_json::from_str(r#"{"name":"a","b":[1,{"c":2}]}"#).unwrap();
        assert_eq!(k.keys, 2);
        #[derive(Deserialize)]
        struct S<'a> {
            #[serde(borrow, default)]
            a: Seen<Scalar<'a>>,
            #[serde(borrow, default)]
            b: Seen<Scalar<'a>>,
        }
        let s: S<'_> = serde_json::from_str(r#"{"a":null}"#).unwrap();
        assert!(s.a.is_present());
        assert!(!s.b.is_present());
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let text = r#"{"name":"plain"}"#;
        let i: Item<'_> = serde_json::from_str(text).unwrap();
        assert!(matches!(i.name, Scalar::Str(Cow::Borrowed("plain"))));
        let i: Item<'_> = serde_json::from_str(r#"{"name":"a\"b"}"#).unwrap();
        assert_eq!(i.name.as_str(), Some("a\"b"));
    }
}
