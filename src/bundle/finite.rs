//! JSON has no NaN or infinity: serde_json writes them as `null`, and the bundle would
//! then fail to load. Before a model file is written, its value is walked once by this
//! serializer, which writes nothing and stops at the first non-finite number with the
//! path of the field that holds it (`profiles[2].numeric[0].mean`).

use serde::ser::{self, Serialize};
use std::fmt;

/// Why a value cannot be written as JSON.
#[derive(Debug, PartialEq)]
pub enum Unwritable {
    /// A NaN or infinite number, at this field path.
    NonFinite { field: String, value: f64 },
    /// The value's own `Serialize` failed.
    Other(String),
}

impl fmt::Display for Unwritable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unwritable::NonFinite { field, value } => write!(
                f,
                "field `{field}` is {value}, which JSON cannot hold (it would be read back as null)"
            ),
            Unwritable::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Unwritable {}

impl ser::Error for Unwritable {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Unwritable::Other(msg.to_string())
    }
}

/// `Ok` when every number in `value` is finite; otherwise the first offending field.
pub fn check<T: Serialize + ?Sized>(value: &T) -> Result<(), Unwritable> {
    value.serialize(&mut Walker { path: Vec::new() })
}

struct Walker {
    path: Vec<String>,
}

impl Walker {
    fn number(&self, value: f64) -> Result<(), Unwritable> {
        if value.is_finite() {
            return Ok(());
        }
        let field = self.path.concat().trim_start_matches('.').to_string();
        Err(Unwritable::NonFinite {
            field: if field.is_empty() {
                "(top)".into()
            } else {
                field
            },
            value,
        })
    }

    fn within<T: Serialize + ?Sized>(&mut self, part: String, value: &T) -> Result<(), Unwritable> {
        self.path.push(part);
        let result = value.serialize(&mut *self);
        self.path.pop();
        result
    }
}

/// A sequence, map or struct being walked: `index` counts elements, `key` holds the map
/// key whose value comes next.
struct Compound<'a> {
    walker: &'a mut Walker,
    index: usize,
    key: String,
}

impl<'a> Compound<'a> {
    fn new(walker: &'a mut Walker) -> Self {
        Compound {
            walker,
            index: 0,
            key: String::new(),
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unwritable> {
        let part = format!("[{}]", self.index);
        self.index += 1;
        self.walker.within(part, value)
    }
}

impl<'a> ser::Serializer for &'a mut Walker {
    type Ok = ();
    type Error = Unwritable;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, _: bool) -> Result<(), Unwritable> {
        Ok(())
    }
    fn serialize_i8(self, _: i8) -> Result<(), Unwritable> {
        Ok(())
    }
    fn serialize_i16(self, _: i16) -> Result<(), Unwritable> {
        Ok(())
    }
    fn serialize_i32(self, _: i32) -> Result<(), Unwritable> {
        Ok(())
    }
    fn serialize_i64(self, _: i64) -> Result<(), Unwritable> {
        Ok(())
    }
    fn serialize_u8(self, _: u8) -> Result<(), Unwritable> {
        Ok(())
    }
    fn serialize_u16(self, _: u16) -> Result<(), Unwritable> {
        Ok(())
    }
    fn serialize_u32(self, _: u32) -> Result<(), Unwritable> {
        Ok(())
    }
    fn serialize_u64(self, _: u64) -> Result<(), Unwritable> {
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Unwritable> {
        self.number(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Unwritable> {
        self.number(v)
    }
    fn serialize_char(self, _: char) -> Result<(), Unwritable> {
        Ok(())
    }
    fn serialize_str(self, _: &str) -> Result<(), Unwritable> {
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Unwritable> {
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Unwritable> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unwritable> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Unwritable> {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unwritable> {
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<(), Unwritable> {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Unwritable> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Unwritable> {
        self.within(format!(".{variant}"), value)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a>, Unwritable> {
        Ok(Compound::new(self))
    }
    fn serialize_tuple(self, _: usize) -> Result<Compound<'a>, Unwritable> {
        Ok(Compound::new(self))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, Unwritable> {
        Ok(Compound::new(self))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, Unwritable> {
        self.path.push(format!(".{variant}"));
        Ok(Compound::new(self))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a>, Unwritable> {
        Ok(Compound::new(self))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, Unwritable> {
        Ok(Compound::new(self))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, Unwritable> {
        self.path.push(format!(".{variant}"));
        Ok(Compound::new(self))
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Unwritable;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unwritable> {
        self.element(value)
    }
    fn end(self) -> Result<(), Unwritable> {
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = Unwritable;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unwritable> {
        self.element(value)
    }
    fn end(self) -> Result<(), Unwritable> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = Unwritable;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unwritable> {
        self.element(value)
    }
    fn end(self) -> Result<(), Unwritable> {
        Ok(())
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = Unwritable;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unwritable> {
        self.element(value)
    }
    fn end(self) -> Result<(), Unwritable> {
        self.walker.path.pop();
        Ok(())
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Unwritable;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unwritable> {
        self.key = match serde_json::to_value(key) {
            Ok(serde_json::Value::String(s)) => s,
            Ok(other) => other.to_string(),
            Err(_) => "?".into(),
        };
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unwritable> {
        let part = format!("[{:?}]", self.key);
        self.walker.within(part, value)
    }
    fn end(self) -> Result<(), Unwritable> {
        Ok(())
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Unwritable;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Unwritable> {
        self.walker.within(format!(".{name}"), value)
    }
    fn end(self) -> Result<(), Unwritable> {
        Ok(())
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = Unwritable;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Unwritable> {
        self.walker.within(format!(".{name}"), value)
    }
    fn end(self) -> Result<(), Unwritable> {
        self.walker.path.pop();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    struct Summary {
        column: String,
        mean: f64,
    }

    #[derive(Serialize)]
    struct Profile {
        numeric: Vec<Summary>,
        share: Option<f64>,
        pairs: Vec<(f64, f64)>,
        by_name: BTreeMap<String, f32>,
    }

    fn profile() -> Profile {
        Profile {
            numeric: vec![
                Summary {
                    column: "tenure".into(),
                    mean: 1.0,
                },
                Summary {
                    column: "charges".into(),
                    mean: 2.0,
                },
            ],
            share: Some(0.5),
            pairs: vec![(0.0, 1.0)],
            by_name: BTreeMap::from([("a".to_string(), 1.0)]),
        }
    }

    fn field_of(result: Result<(), Unwritable>) -> String {
        match result {
            Err(Unwritable::NonFinite { field, .. }) => field,
            other => panic!("expected a non-finite field, got {other:?}"),
        }
    }

    #[test]
    fn finite_values_pass() {
        assert_eq!(check(&profile()), Ok(()));
        assert_eq!(check(&vec![Some(1.0), None]), Ok(()));
    }

    #[test]
    fn the_path_of_a_nan_is_named() {
        let mut p = profile();
        p.numeric[1].mean = f64::NAN;
        assert_eq!(field_of(check(&p)), "numeric[1].mean");
        let mut p = profile();
        p.share = Some(f64::INFINITY);
        assert_eq!(field_of(check(&p)), "share");
        let mut p = profile();
        p.pairs[0].1 = f64::NEG_INFINITY;
        assert_eq!(field_of(check(&p)), "pairs[0][1]");
        let mut p = profile();
        p.by_name.insert("b".into(), f32::NAN);
        assert_eq!(field_of(check(&p)), "by_name[\"b\"]");
        assert_eq!(field_of(check(&f64::NAN)), "(top)");
    }

    #[test]
    fn enum_variants_are_part_of_the_path() {
        #[derive(Serialize)]
        enum Calibrator {
            Platt { a: f64, b: f64 },
        }
        #[derive(Serialize)]
        #[serde(tag = "kind")]
        enum Tagged {
            Gbm { base: f64 },
        }
        let c = Calibrator::Platt {
            a: 1.0,
            b: f64::NAN,
        };
        assert_eq!(field_of(check(&c)), "Platt.b");
        let t = Tagged::Gbm { base: f64::NAN };
        assert_eq!(field_of(check(&t)), "base");
    }
}
