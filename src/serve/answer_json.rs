//! The answer to one scored record written as JSON straight from the Scorer's `Scored`:
//! the bytes `serde_json` writes for [`Scorer::answer`]'s `Answer`, without building it.
//! Segment names, item names, rule texts, popular-item texts and the version are copied
//! as JSON strings made once per bundle ([`Scorer::json_texts`]); only the id, the reason
//! texts and short fixed words are escaped per answer, and the reasons are built in one
//! buffer, once per answer even where the attrition target's appear twice.

use super::json_text::plain_len;
use crate::models::classifier::explain::push_reason;
use crate::models::classifier::RiskScore;
use crate::numfmt;
use crate::score::{JsonTexts, Scored, Scorer};
use serde::Serialize;
use std::ops::Range;

type Written = Result<(), serde_json::Error>;

/// Append the answer for `scored` (as [`Scorer::answer`]`(id, scored)`, without a
/// contact) to `out`.
pub fn write_answer(out: &mut Vec<u8>, scorer: &Scorer, id: &str, scored: &Scored) -> Written {
    let texts = scorer.json_texts();
    out.extend_from_slice(b"{\"id\":");
    json_str(out, id)?;
    out.extend_from_slice(b",\"segment\":{\"id\":");
    let mut digits = [0u8; 20];
    out.extend_from_slice(numfmt::integer_digits(scored.segment as u64, &mut digits));
    out.extend_from_slice(b",\"name\":");
    out.extend_from_slice(texts.segment_names[scored.segment].as_bytes());
    out.extend_from_slice(b",\"tier\":");
    json_str(out, scored.tier)?;
    out.extend_from_slice(b",\"quadrant\":");
    match scored.risk.and_then(|r| r.quadrant) {
        Some(quadrant) => json_word(out, quadrant),
        None => out.extend_from_slice(b"null"),
    }
    if let Some(c) = &scored.contribution {
        out.extend_from_slice(b",\"contribution\":");
        json(out, &c.value())?;
        out.extend_from_slice(b",\"loss_maker\":");
        json(out, &c.loss_maker())?;
    }
    out.extend_from_slice(b"},\"cross_sell\":[");
    write_offers(out, scorer, texts, scored)?;
    out.extend_from_slice(b"],\"retention\":");
    let retention = match &scored.risk {
        Some(risk) => Some(write_retention(out, scorer, scored, risk)?),
        None => {
            out.extend_from_slice(b"null");
            None
        }
    };
    write_propensities(out, scorer, scored, retention)?;
    out.extend_from_slice(b",\"lifetime\":");
    match &scored.lifetime {
        Some(lifetime) => json(out, lifetime)?,
        None => out.extend_from_slice(b"null"),
    }
    if let Some(rfm) = &scored.rfm {
        out.extend_from_slice(b",\"rfm\":");
        json(out, rfm)?;
    }
    if let Some(uplift) = &scored.uplift {
        out.extend_from_slice(b",\"uplift\":");
        json(out, uplift)?;
    }
    out.extend_from_slice(b",\"warnings\":");
    match scored.warnings {
        [] => out.extend_from_slice(b"[]"),
        warnings => json(out, warnings)?,
    }
    out.extend_from_slice(b",\"model_version\":");
    out.extend_from_slice(texts.version.as_bytes());
    out.push(b'}');
    Ok(())
}

fn json(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) -> Written {
    serde_json::to_writer(out, value)
}

/// A string as serde_json writes it; texts with nothing to escape (nearly all) are
/// copied between quotes without serde's writer.
fn json_str(out: &mut Vec<u8>, text: &str) -> Written {
    if plain_len(text.as_bytes()) < text.len() {
        return json(out, text);
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
    Ok(())
}

/// A word from the code's own constants (a band, a quadrant), which holds nothing to
/// escape.
fn json_word(out: &mut Vec<u8>, word: &'static str) {
    debug_assert_eq!(plain_len(word.as_bytes()), word.len(), "{word}");
    out.push(b'"');
    out.extend_from_slice(word.as_bytes());
    out.push(b'"');
}

fn write_offers(out: &mut Vec<u8>, scorer: &Scorer, texts: &JsonTexts, scored: &Scored) -> Written {
    if scorer.bundle().rules.is_none() {
        return Ok(());
    }
    for (i, offer) in scored.offers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"item\":");
        out.extend_from_slice(texts.items[offer.item as usize].as_bytes());
        out.extend_from_slice(b",\"score\":");
        json(out, &offer.score)?;
        out.extend_from_slice(b",\"because\":[");
        if offer.because.is_empty() {
            out.extend_from_slice(texts.popular[offer.item as usize].as_bytes());
        }
        for (k, &rule) in offer.because.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            out.extend_from_slice(texts.rules[rule as usize].as_bytes());
        }
        out.extend_from_slice(b"]}");
    }
    Ok(())
}

/// Every target's answer by name (sorted, as the `BTreeMap` of `Answer` serialises);
/// nothing when the bundle has no label. The attrition target's probability and reasons
/// are the bytes already written for `retention` (`retention`, ranges of `out`): copied,
/// not formatted again.
fn write_propensities(
    out: &mut Vec<u8>,
    scorer: &Scorer,
    scored: &Scored,
    retention: Option<RetentionWritten>,
) -> Written {
    let mut targets: Vec<(&str, &RiskScore)> = scorer.target_scores(scored).collect();
    if targets.is_empty() {
        return Ok(());
    }
    targets.sort_by_key(|(name, _)| *name);
    out.extend_from_slice(b",\"propensities\":{");
    for (i, (name, risk)) in targets.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(out, name)?;
        out.extend_from_slice(b":{\"probability\":");
        let is_retention = scored.risk.as_ref().is_some_and(|r| std::ptr::eq(r, risk));
        let written = retention.as_ref().filter(|_| is_retention);
        match written {
            Some(written) => out.extend_from_within(written.probability.clone()),
            None => json(out, &risk.probability)?,
        }
        out.extend_from_slice(b",\"band\":");
        json_word(out, risk.band);
        out.extend_from_slice(b",");
        match written {
            Some(written) => out.extend_from_within(written.reasons.clone()),
            None => {
                write_reasons(out, scorer, scored, risk)?;
            }
        }
        out.push(b'}');
    }
    out.push(b'}');
    Ok(())
}

/// `"reasons":[…]`: the reason texts of one risk score; returns where in `out` they are.
fn write_reasons(
    out: &mut Vec<u8>,
    scorer: &Scorer,
    scored: &Scored,
    risk: &RiskScore,
) -> Result<Range<usize>, serde_json::Error> {
    let start = out.len();
    out.extend_from_slice(b"\"reasons\":[");
    let encoder = &scorer.bundle().encoder;
    let mut text = String::with_capacity(64);
    for (i, reason) in risk.reasons.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        text.clear();
        push_reason(&mut text, encoder, reason, scored.values().get(reason.0));
        json_str(out, &text)?;
    }
    out.push(b']');
    Ok(start..out.len())
}

/// Where in `out` the retention answer's probability and reasons are.
struct RetentionWritten {
    probability: Range<usize>,
    reasons: Range<usize>,
}

/// The retention answer; returns where in `out` its probability and reasons are.
fn write_retention(
    out: &mut Vec<u8>,
    scorer: &Scorer,
    scored: &Scored,
    risk: &RiskScore,
) -> Result<RetentionWritten, serde_json::Error> {
    out.extend_from_slice(b"{\"probability\":");
    let start = out.len();
    json(out, &risk.probability)?;
    let probability = start..out.len();
    out.extend_from_slice(b",\"band\":");
    json_word(out, risk.band);
    out.push(b',');
    let reasons = write_reasons(out, scorer, scored, risk)?;
    out.extend_from_slice(b",\"clv\":");
    json(out, &risk.clv)?;
    if scorer.clv_on_contribution() {
        out.extend_from_slice(b",\"clv_basis\":\"contribution\"");
    }
    out.push(b'}');
    Ok(RetentionWritten {
        probability,
        reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Value;
    use crate::score::Scratch;
    use std::borrow::Cow;
    use std::path::Path;

    use crate::score::telco_400_scorer as telco_scorer;

    #[test]
    fn answers_are_written_byte_for_byte_as_the_owned_answer() {
        let scorer = telco_scorer();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/telco_400.csv");
        let mut reader = csv::Reader::from_path(path).unwrap();
        let header = reader.headers().unwrap().clone();
        let mut rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        // Unseen categories and out-of-range numbers give warnings; blanks are missing.
        let mut odd = rows[0].clone();
        odd = odd
            .iter()
            .enumerate()
            .map(|(i, cell)| match i % 3 {
                0 if cell.parse::<f64>().is_err() => "never-seen \"quoted\" \u{e9}",
                1 => "",
                _ => cell,
            })
            .collect();
        rows.push(odd);
        let inputs: Vec<Option<usize>> = scorer
            .input_names()
            .map(|name| header.iter().position(|h| h == name))
            .collect();
        let (mut with_offers, mut with_reasons) = (0, 0);
        for (n, row) in rows.iter().enumerate() {
            let values: Vec<Value> = inputs
                .iter()
                .map(|at| match at.and_then(|at| row.get(at)) {
                    Some(cell) => Value::Text(Cow::Borrowed(cell)),
                    None => Value::Missing,
                })
                .collect();
            let id = format!("c-{n}");
            let mut scratch = Scratch::with_values(values);
            let scored = scorer.score_into(&mut scratch).unwrap();
            let owned = serde_json::to_vec(&scorer.answer(Cow::Borrowed(&id), &scored)).unwrap();
            let mut written = Vec::new();
            write_answer(&mut written, &scorer, &id, &scored).unwrap();
            assert_eq!(
                String::from_utf8(written).unwrap(),
                String::from_utf8(owned).unwrap()
            );
            with_offers += usize::from(!scored.offers.is_empty());
            with_reasons += usize::from(scored.risk.is_some_and(|r| r.reasons.iter().count() > 0));
        }
        assert!(
            with_offers > 100 && with_reasons > 100,
            "{with_offers} {with_reasons}"
        );
    }
}
