//! Campaigns, their control groups and the contact rows scoring records. The arm is a
//! pure function of campaign and customer id, so a customer lands in the same arm on
//! every run, in batch and in the service alike.

use crate::features::Value;
use crate::score::{Scored, Scorer};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Whether a customer of a campaign is acted on (treatment) or held back (control).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Arm {
    Treatment,
    Control,
}

impl Arm {
    pub fn as_str(self) -> &'static str {
        match self {
            Arm::Treatment => "treatment",
            Arm::Control => "control",
        }
    }

    pub fn parse(text: &str) -> Option<Arm> {
        match text {
            "treatment" => Some(Arm::Treatment),
            "control" => Some(Arm::Control),
            _ => None,
        }
    }
}

/// The arm shown in an answer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ContactArm {
    pub campaign: String,
    pub arm: Arm,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CampaignError {
    #[error("campaign name must be 1 to {MAX_NAME} characters without control characters")]
    BadName,
    #[error("control share {0} must be at least 0 and below 1")]
    BadShare(f64),
}

const MAX_NAME: usize = 200;

/// A named campaign and the share of its customers held back as control.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    name: String,
    control_share: f64,
}

impl Campaign {
    pub fn new(name: &str, control_share: f64) -> Result<Self, CampaignError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control)
        {
            return Err(CampaignError::BadName);
        }
        if !(0.0..1.0).contains(&control_share) {
            return Err(CampaignError::BadShare(control_share));
        }
        Ok(Campaign {
            name: name.to_string(),
            control_share,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The customer's arm: the first 8 bytes of sha256(campaign, 0x1f, id) as a fraction
    /// of 2^64, below the control share = control.
    pub fn arm(&self, customer_id: &str) -> Arm {
        let mut hash = Sha256::new();
        hash.update(self.name.as_bytes());
        hash.update([0x1f]);
        hash.update(customer_id.as_bytes());
        let digest = hash.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        let fraction = u64::from_be_bytes(first) as f64 / 2f64.powi(64);
        match fraction < self.control_share {
            true => Arm::Control,
            false => Arm::Treatment,
        }
    }
}

/// One customer acted on (or held back) in a campaign, as the bundle scored them then.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub campaign: String,
    pub customer_id: String,
    /// RFC 3339, UTC.
    pub contacted_at: String,
    pub model_version: String,
    pub arm: Arm,
    pub churn_probability: Option<f64>,
    pub risk_band: Option<String>,
    pub segment: usize,
    pub segment_name: String,
    /// Offered items, `;`-joined, best first.
    pub offers: String,
    /// The input row as scored: a JSON object of input column → value (numbers parsed,
    /// missing as null), so a later model can be trained on what was known then.
    pub inputs: String,
}

impl Contact {
    pub fn new(
        scorer: &Scorer,
        campaign: &Campaign,
        customer_id: &str,
        scored: &Scored,
        contacted_at: &str,
    ) -> Contact {
        let items = scorer
            .bundle()
            .rules
            .as_ref()
            .map_or(&[][..], |m| &m.items[..]);
        let offers: Vec<&str> = scored
            .offers
            .iter()
            .filter_map(|o| items.get(o.item as usize).map(String::as_str))
            .collect();
        Contact {
            campaign: campaign.name.clone(),
            customer_id: customer_id.to_string(),
            contacted_at: contacted_at.to_string(),
            model_version: scorer.version().to_string(),
            arm: campaign.arm(customer_id),
            churn_probability: scored.risk.map(|r| r.probability),
            risk_band: scored.risk.map(|r| r.band.to_string()),
            segment: scored.segment,
            segment_name: scored.segment_name.to_string(),
            offers: offers.join(";"),
            inputs: inputs_json(scorer, scored.values()),
        }
    }
}

/// The scored values as one JSON object keyed by input column.
fn inputs_json(scorer: &Scorer, values: &[Value]) -> String {
    let object: serde_json::Map<String, serde_json::Value> = scorer
        .input_names()
        .zip(values)
        .map(|(name, value)| {
            let json = match value {
                Value::Missing => serde_json::Value::Null,
                Value::Number(x) => serde_json::Number::from_f64(*x)
                    .map_or(serde_json::Value::Null, serde_json::Value::Number),
                Value::Text(t) => serde_json::Value::String(t.to_string()),
            };
            (name.to_string(), json)
        })
        .collect();
    serde_json::Value::Object(object).to_string()
}

/// Now, as contacts and events record time.
pub fn now_utc() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_and_shares_are_checked() {
        assert!(Campaign::new("spring", 0.1).is_ok());
        assert_eq!(Campaign::new("  ", 0.1), Err(CampaignError::BadName));
        assert_eq!(Campaign::new("a\nb", 0.1), Err(CampaignError::BadName));
        assert_eq!(Campaign::new("x", 1.0), Err(CampaignError::BadShare(1.0)));
        assert_eq!(Campaign::new("x", -0.1), Err(CampaignError::BadShare(-0.1)));
        assert!(Campaign::new("x", f64::NAN).is_err());
    }

    #[test]
    fn the_arm_is_fixed_by_campaign_and_customer() {
        // Known answers (sha256 of "spring", 0x1f, id: first 8 bytes / 2^64 = 0.252,
        // 0.676, 0.884, 0.997): a change of hash would move customers between arms.
        let campaign = Campaign::new("spring", 0.5).unwrap();
        let arms: Vec<Arm> = ["1", "2", "3", "4"]
            .iter()
            .map(|id| campaign.arm(id))
            .collect();
        assert_eq!(
            arms,
            [Arm::Control, Arm::Treatment, Arm::Treatment, Arm::Treatment]
        );
        let wider = Campaign::new("spring", 0.7).unwrap();
        assert_eq!(wider.arm("2"), Arm::Control);
        let none = Campaign::new("spring", 0.0).unwrap();
        assert!((0..1000).all(|i| none.arm(&i.to_string()) == Arm::Treatment));
    }

    #[test]
    fn the_control_share_is_met_and_arms_differ_between_campaigns() {
        let a = Campaign::new("a", 0.1).unwrap();
        let b = Campaign::new("b", 0.1).unwrap();
        let n = 20_000;
        let control = (0..n)
            .filter(|i| a.arm(&i.to_string()) == Arm::Control)
            .count();
        // Binomial(20,000, 0.1): sd 42, so ±200 is about 5 sd.
        assert!((1800..=2200).contains(&control), "{control}");
        let both = (0..n)
            .filter(|i| {
                a.arm(&i.to_string()) == Arm::Control && b.arm(&i.to_string()) == Arm::Control
            })
            .count();
        assert!(both < 400, "arms of two campaigns are independent: {both}");
    }

    proptest! {
        #[test]
        fn a_larger_share_only_moves_customers_into_control(id in ".{0,20}", low in 0.0..0.5f64) {
            let small = Campaign::new("c", low).unwrap();
            let large = Campaign::new("c", low + 0.4).unwrap();
            if small.arm(&id) == Arm::Control {
                prop_assert_eq!(large.arm(&id), Arm::Control);
            }
        }
    }
}
