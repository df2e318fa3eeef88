//! The usual body, read without serde: a flat JSON object (or an array of them) whose
//! names and strings hold no escapes and whose values are strings, numbers, booleans or
//! null. Anything else (escapes, nested values, bad JSON, a long integer) gives `None`
//! and serde's reader decides, so every answer and every error stays serde's: this is
//! only a shorter road to the same [`Shape`]s. A proptest holds the two roads equal.

use super::{FieldsSeen, Names, Scalar, Shape};
use crate::features::Value;
use crate::serve::json_text::plain_len;
use crate::text_eq::same_bytes;
use serde_json::Number;
use std::borrow::Cow;

/// A batch body: the records of an array, or `None` for serde to read.
pub(super) fn batch<'a>(names: &Names, body: &'a [u8]) -> Option<Vec<Shape<'a>>> {
    let mut at = Cursor::new(body)?;
    at.expect(b'[')?;
    let mut shapes = Vec::with_capacity(body.len() / 256 + 1);
    if !at.eat(b']') {
        loop {
            shapes.push(at.object(names)?);
            if at.eat(b']') {
                break;
            }
            at.expect(b',')?;
        }
    }
    at.end()?;
    Some(shapes)
}

/// One record body, or `None` for serde to read.
pub(super) fn record<'a>(names: &Names, body: &'a [u8]) -> Option<Shape<'a>> {
    let mut at = Cursor::new(body)?;
    let shape = at.object(names)?;
    at.end()?;
    Some(shape)
}

struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    /// The body checked as UTF-8 once, so strings cut at quotes are valid as they stand.
    fn new(body: &'a [u8]) -> Option<Self> {
        Some(Cursor {
            text: std::str::from_utf8(body).ok()?,
            at: 0,
        })
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The next byte that is not JSON whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        let bytes = self.bytes();
        // Compact bodies have no whitespace: one test, no loop.
        let c = *bytes.get(self.at)?;
        if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
            return Some(c);
        }
        while let Some(&c) = bytes.get(self.at) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(c);
            }
            self.at += 1;
        }
        None
    }

    fn eat(&mut self, c: u8) -> bool {
        let found = self.peek() == Some(c);
        self.at += usize::from(found);
        found
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        self.eat(c).then_some(())
    }

    /// Nothing but whitespace left.
    fn end(&mut self) -> Option<()> {
        self.peek().is_none().then_some(())
    }

    fn object(&mut self, names: &Names) -> Option<Shape<'a>> {
        self.expect(b'{')?;
        let mut seen = FieldsSeen::new(names);
        if !self.eat(b'}') {
            loop {
                self.expect(b'"')?;
                let at = seen.next;
                if names.keys.get(at).is_some_and(|key| self.eat_key(key)) {
                    // An input with another role goes through `input`, which notes both.
                    let plain = if names.shared {
                        None
                    } else {
                        self.plain_value()
                    };
                    match plain {
                        Some(value) => seen.place(at, value),
                        None => seen.input(at, &names.inputs[at], self.scalar()?),
                    }
                } else if names.id_key.as_deref().is_some_and(|key| self.eat_key(key)) {
                    seen.id = self.scalar()?;
                } else {
                    let name = self.string()?;
                    self.expect(b':')?;
                    seen.field(name, self.scalar()?);
                }
                if self.eat(b'}') {
                    break;
                }
                self.expect(b',')?;
            }
        }
        Some(seen.finish())
    }

    /// Whether the string whose opening quote was read is the name in `key` (the name,
    /// its closing quote and the colon after it, nothing in it to escape); if so all of
    /// it is consumed. Bodies list inputs in order, so comparing with the input expected
    /// next usually saves finding the string's end.
    #[inline(always)]
    fn eat_key(&mut self, key: &[u8]) -> bool {
        let end = self.at + key.len();
        let found = self
            .bytes()
            .get(self.at..end)
            .is_some_and(|name| same_bytes(name, key));
        if found {
            self.at = end;
        }
        found
    }

    /// The rest of a string whose opening quote was read: no escapes, no control bytes.
    fn string(&mut self) -> Option<&'a str> {
        let start = self.at;
        let rest = &self.bytes()[start..];
        let len = plain_len(rest);
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        self.at = start + len + 1;
        self.text.get(start..start + len)
    }

    /// A value right at the cursor that an input takes as it stands, consumed: a string
    /// with nothing to escape, or a number. Anything else (whitespace first, null, a
    /// boolean, a number left to serde) is `None` with nothing consumed, for
    /// [`Self::scalar`] to read. Most values of most bodies are read here, without
    /// passing through a [`Scalar`].
    fn plain_value(&mut self) -> Option<Value<'a>> {
        let start = self.at;
        match *self.bytes().get(start)? {
            b'"' => {
                self.at = start + 1;
                let text = self.string();
                if text.is_none() {
                    self.at = start;
                }
                text.map(|text| Value::Text(Cow::Borrowed(text)))
            }
            b'-' | b'0'..=b'9' => {
                if let Some(n) = self.small_integer() {
                    return Some(Value::Number(n));
                }
                let number = match self.number() {
                    Some(Scalar::Number(n)) => n.as_f64(),
                    _ => None,
                };
                if number.is_none() {
                    self.at = start;
                }
                number.map(Value::Number)
            }
            _ => None,
        }
    }

    fn scalar(&mut self) -> Option<Scalar<'a>> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                Some(Scalar::Text(self.string()?.into()))
            }
            b'-' | b'0'..=b'9' => self.number(),
            b'n' => self.literal("null", Scalar::Null),
            b't' => self.literal("true", Scalar::Other("a boolean")),
            b'f' => self.literal("false", Scalar::Other("a boolean")),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str, value: Scalar<'a>) -> Option<Scalar<'a>> {
        self.text[self.at..].starts_with(word).then(|| {
            self.at += word.len();
            value
        })
    }

    /// A non-negative integer of at most 18 digits (the usual count, flag or age),
    /// consumed, as serde_json reads it (`u64`, then `as f64`); `None` with nothing
    /// consumed for anything else, [`Self::number`]'s to read.
    fn small_integer(&mut self) -> Option<f64> {
        let bytes = self.bytes();
        let start = self.at;
        let mut at = start;
        let mut value = 0u64;
        while let Some(&c @ b'0'..=b'9') = bytes.get(at) {
            value = value.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
            at += 1;
        }
        let digits = at - start;
        let leading_zero = digits > 1 && bytes[start] == b'0';
        let more = matches!(bytes.get(at), Some(b'.' | b'e' | b'E'));
        if digits == 0 || digits > 18 || leading_zero || more {
            return None;
        }
        self.at = at;
        Some(value as f64)
    }

    /// A number by JSON's grammar, as serde_json would hold it: an integer of at most
    /// 18 digits as an integer, anything with a fraction or exponent as an f64 (rounded
    /// correctly, as serde_json's `float_roundtrip` does). Longer integers, `-0` and
    /// floats out of range are left to serde. Digits are added up as they are scanned,
    /// so the usual number is not read a second time.
    fn number(&mut self) -> Option<Scalar<'a>> {
        let start = self.at;
        let negative = self.bytes()[start] == b'-';
        self.at += usize::from(negative);
        let digits = self.at;
        let mut mantissa = 0;
        match self.bytes().get(self.at)? {
            b'0' => self.at += 1,
            b'1'..=b'9' => mantissa = self.digits(0),
            _ => return None,
        }
        let integer_digits = self.at - digits;
        let mut fraction_digits = 0;
        let mut exponent = Some(0);
        let mut float = false;
        if self.bytes().get(self.at) == Some(&b'.') {
            self.at += 1;
            let from = self.at;
            mantissa = self.digits(mantissa);
            fraction_digits = self.at - from;
            if fraction_digits == 0 {
                return None;
            }
            float = true;
        }
        if matches!(self.bytes().get(self.at), Some(b'e' | b'E')) {
            self.at += 1;
            let sign = self.bytes().get(self.at).copied();
            self.at += usize::from(matches!(sign, Some(b'+' | b'-')));
            let from = self.at;
            let value = self.digits(0) as i64;
            let exponent_digits = self.at - from;
            if exponent_digits == 0 {
                return None;
            }
            let value = if sign == Some(b'-') { -value } else { value };
            exponent = (exponent_digits <= 4).then_some(value);
            float = true;
        }
        if !float {
            if integer_digits > 18 || (negative && mantissa == 0) {
                return None;
            }
            let n = mantissa as i64;
            return Some(Scalar::Number(Number::from(if negative { -n } else { n })));
        }
        let exact = exponent.and_then(|e| {
            exact_float(
                mantissa,
                integer_digits + fraction_digits,
                e - fraction_digits as i64,
            )
        });
        let x = match exact {
            Some(x) if negative => -x,
            Some(x) => x,
            None => self.text[start..self.at].parse().ok()?,
        };
        x.is_finite()
            .then(|| Number::from_f64(x).map_or(Scalar::Null, Scalar::Number))
    }

    /// Scan digits, adding them to `value` (which wraps past 19 digits: callers count
    /// digits before trusting it).
    fn digits(&mut self, mut value: u64) -> u64 {
        let bytes = self.bytes();
        while let Some(&c @ b'0'..=b'9') = bytes.get(self.at) {
            value = value.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
            self.at += 1;
        }
        value
    }
}

/// Powers of ten an f64 holds exactly.
const EXACT_POWERS: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `mantissa × 10^exponent` when one correctly rounded multiplication or division
/// gives it (Clinger's fast path: both factors exact in an f64), else `None` for the
/// full parser. `digits` counts the mantissa's digits as written.
fn exact_float(mantissa: u64, digits: usize, exponent: i64) -> Option<f64> {
    if digits > 19 || mantissa > 1 << 53 {
        return None;
    }
    let power = *EXACT_POWERS.get(exponent.unsigned_abs() as usize)?;
    let m = mantissa as f64;
    Some(if exponent < 0 { m / power } else { m * power })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::request::Fields;
    use proptest::prelude::*;

    struct Two;

    impl Fields for Two {
        fn n_inputs(&self) -> usize {
            2
        }
        fn input_name(&self, at: usize) -> &str {
            ["tenure", "contract"][at]
        }
        fn id_column(&self) -> Option<&str> {
            Some("customer_id")
        }
    }

    fn read(body: &str) -> bool {
        record(&Names::new(&Two), body.as_bytes()).is_some()
    }

    /// The usual bodies take the short road (serde's reader is the slow one, and the
    /// proptests in `record` only show the roads agree, not that this one is taken).
    #[test]
    fn usual_bodies_are_read_here() {
        assert!(read(
            r#"{"customer_id":"7590-VHVEG","tenure":1,"contract":"Month-to-month"}"#
        ));
        assert!(read(
            "{ \"tenure\" : 2.5e1 ,\n \"contract\": null, \"extra\": true }"
        ));
        assert!(read(r#"{"tenure":-3,"contract":"Año","other":false}"#));
        assert!(read("{}"));
        let many = format!("[{}]", [r#"{"tenure":1}"#; 3].join(" , "));
        let names = Names::new(&Two);
        assert_eq!(batch(&names, many.as_bytes()).map(|s| s.len()), Some(3));
        assert_eq!(batch(&names, b" [ ] ").map(|s| s.len()), Some(0));
    }

    /// Everything unusual goes to serde, which words the errors.
    #[test]
    fn unusual_bodies_are_left_to_serde() {
        for body in [
            r#"{"te\u006eure":1}"#,
            r#"{"tenure":"a\"b"}"#,
            r#"{"tenure":[1]}"#,
            r#"{"tenure":{"a":1}}"#,
            r#"{"tenure":-0}"#,
            r#"{"tenure":12345678901234567890}"#,
            r#"{"tenure":1e400}"#,
            r#"{"tenure":01}"#,
            r#"{"tenure":1.}"#,
            r#"{"tenure":1,}"#,
            r#"{"tenure":1} x"#,
            r#"{"tenure":nul}"#,
            "{\"contract\":\"a\tb\"}",
            "[1]",
            "",
        ] {
            assert!(!read(body), "{body}");
        }
        let names = Names::new(&Two);
        assert!(batch(&names, b"[{},]").is_none());
        assert!(batch(&names, b"[1]").is_none());
        assert!(record(&names, b"{\"tenure\":\"\xff\"}").is_none());
    }

    proptest! {
        /// Numbers as clients write them, most within the fast path's reach and some
        /// past it (long fractions, large exponents), read as serde_json reads them.
        #[test]
        fn numbers_read_as_serde_reads_them(
            negative in any::<bool>(),
            integer in prop_oneof![Just(0u64), 0u64..1000, 0u64..100_000_000_000_000],
            fraction in "[0-9]{0,20}",
            exponent in prop::option::of(-40i32..40),
        ) {
            let mut text = format!("{}{integer}", if negative { "-" } else { "" });
            if !fraction.is_empty() {
                text = format!("{text}.{fraction}");
            }
            if let Some(e) = exponent {
                text = format!("{text}e{e}");
            }
            let serde: serde_json::Value = serde_json::from_str(&text).unwrap();
            let mut at = Cursor::new(text.as_bytes()).unwrap();
            match at.number() {
                Some(Scalar::Number(n)) => {
                    prop_assert_eq!(serde_json::Value::Number(n), serde, "{}", text);
                    prop_assert_eq!(at.at, text.len());
                }
                Some(_) => prop_assert!(false, "{} read as something else", text),
                None => prop_assert_eq!(text.as_str(), "-0"),
            }
        }
    }
}
