//! The usual body, read without serde: a flat JSON object (or an array of them) whose
//! names and strings hold no escapes and whose values are strings, numbers, booleans or
//! null. Anything else (escapes, nested values, bad JSON, a long integer) gives `None`
//! and serde's reader decides, so every answer and every error stays serde's: this is
//! only a shorter road to the same [`Shape`]s. A proptest holds the two roads equal.

use super::{Fields, FieldsSeen, Scalar, Shape};
use crate::serve::json_text::plain_len;
use serde_json::Number;

/// A batch body: the records of an array, or `None` for serde to read.
pub(super) fn batch<'a, F: Fields>(fields: &F, body: &'a [u8]) -> Option<Vec<Shape<'a>>> {
    let mut at = Cursor::new(body)?;
    at.expect(b'[')?;
    let mut shapes = Vec::with_capacity(body.len() / 256 + 1);
    if !at.eat(b']') {
        loop {
            shapes.push(at.object(fields)?);
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
pub(super) fn record<'a, F: Fields>(fields: &F, body: &'a [u8]) -> Option<Shape<'a>> {
    let mut at = Cursor::new(body)?;
    let shape = at.object(fields)?;
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

    fn object<F: Fields>(&mut self, fields: &F) -> Option<Shape<'a>> {
        self.expect(b'{')?;
        let mut seen = FieldsSeen::new(fields);
        if !self.eat(b'}') {
            loop {
                self.expect(b'"')?;
                let name = self.string()?;
                self.expect(b':')?;
                let value = self.scalar()?;
                seen.field(name, value);
                if self.eat(b'}') {
                    break;
                }
                self.expect(b',')?;
            }
        }
        Some(seen.finish())
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

    /// A number by JSON's grammar, as serde_json would hold it: an integer of at most
    /// 18 digits as an integer, anything with a fraction or exponent as an f64 (rounded
    /// correctly, as serde_json's `float_roundtrip` does). Longer integers, `-0` and
    /// floats out of range are left to serde.
    fn number(&mut self) -> Option<Scalar<'a>> {
        let start = self.at;
        self.at += usize::from(self.bytes()[start] == b'-');
        let digits = self.at;
        match self.bytes().get(self.at)? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let integer_digits = self.at - digits;
        let mut float = false;
        if self.bytes().get(self.at) == Some(&b'.') {
            self.at += 1;
            self.some_digits()?;
            float = true;
        }
        if matches!(self.bytes().get(self.at), Some(b'e' | b'E')) {
            self.at += 1;
            self.at += usize::from(matches!(self.bytes().get(self.at), Some(b'+' | b'-')));
            self.some_digits()?;
            float = true;
        }
        let token = &self.text[start..self.at];
        if !float {
            if integer_digits > 18 || token == "-0" {
                return None;
            }
            let n: i64 = token.parse().ok()?;
            return Some(Scalar::Number(Number::from(n)));
        }
        let x: f64 = token.parse().ok()?;
        x.is_finite()
            .then(|| Number::from_f64(x).map_or(Scalar::Null, Scalar::Number))
    }

    fn digits(&mut self) {
        let bytes = self.bytes();
        while matches!(bytes.get(self.at), Some(b'0'..=b'9')) {
            self.at += 1;
        }
    }

    /// At least one digit, or `None`.
    fn some_digits(&mut self) -> Option<()> {
        let from = self.at;
        self.digits();
        (self.at > from).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        record(&Two, body.as_bytes()).is_some()
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
        assert_eq!(batch(&Two, many.as_bytes()).map(|s| s.len()), Some(3));
        assert_eq!(batch(&Two, b" [ ] ").map(|s| s.len()), Some(0));
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
        assert!(batch(&Two, b"[{},]").is_none());
        assert!(batch(&Two, b"[1]").is_none());
        assert!(record(&Two, b"{\"tenure\":\"\xff\"}").is_none());
    }
}
