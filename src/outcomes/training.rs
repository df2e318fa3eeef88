//! `train --from-campaign`: a campaign's contacts, with the inputs they were scored on, as
//! a labelled customer table (label = an outcome of the chosen type followed the contact).

use super::contacts::Arm;
use super::store::ContactInputs;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The id and label columns of the table handed to the trainer.
pub const ID_COLUMN: &str = "customer_id";
pub const LABEL_COLUMN: &str = "campaign_outcome";
/// With `--uplift`: each contact's arm (`treatment` / `control`), taken out of the table
/// before the features are fitted.
pub const ARM_COLUMN: &str = "campaign_arm";

/// Which arm's contacts to learn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ArmChoice {
    Treatment,
    Control,
    All,
}

impl ArmChoice {
    fn admits(self, arm: Arm) -> bool {
        match self {
            ArmChoice::All => true,
            ArmChoice::Treatment => arm == Arm::Treatment,
            ArmChoice::Control => arm == Arm::Control,
        }
    }
}

/// Where a bundle trained from a campaign learnt, recorded in its manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignSource {
    pub campaign: String,
    pub outcome: String,
    pub arm: ArmChoice,
    pub rows: usize,
    pub positives: usize,
    /// `train --uplift`: the table carries [`ARM_COLUMN`] for an uplift model.
    #[serde(default)]
    pub uplift: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CampaignTableError {
    #[error("campaign {0:?} has no contacts in the {1} arm")]
    NoContacts(String, String),
    #[error("campaign {campaign:?}: every one of {rows} contacts has the same label ({positives} with a {outcome} event); training needs both classes")]
    OneClass {
        campaign: String,
        outcome: String,
        rows: usize,
        positives: usize,
    },
    #[error(
        "campaign {campaign:?}, customer {customer}: stored inputs are not a JSON object: {reason}"
    )]
    Inputs {
        campaign: String,
        customer: String,
        reason: String,
    },
    #[error("{path}: cannot write the campaign table")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// Write the arm's contacts as a CSV (id, the stored inputs, 1/0 label) to `path`.
pub fn write_campaign_table(
    campaign: &str,
    outcome: &str,
    arm: ArmChoice,
    contacts: &[ContactInputs],
    path: &Path,
) -> Result<CampaignSource, CampaignTableError> {
    write_table(campaign, outcome, arm, contacts, path, false)
}

/// Every contact of both arms as a CSV (id, the stored inputs, [`ARM_COLUMN`], 1/0
/// label): what an uplift model learns from.
pub fn write_uplift_table(
    campaign: &str,
    outcome: &str,
    contacts: &[ContactInputs],
    path: &Path,
) -> Result<CampaignSource, CampaignTableError> {
    write_table(campaign, outcome, ArmChoice::All, contacts, path, true)
}

fn write_table(
    campaign: &str,
    outcome: &str,
    arm: ArmChoice,
    contacts: &[ContactInputs],
    path: &Path,
    uplift: bool,
) -> Result<CampaignSource, CampaignTableError> {
    let kept: Vec<&ContactInputs> = contacts.iter().filter(|c| arm.admits(c.arm)).collect();
    let arm_name = format!("{arm:?}").to_lowercase();
    if kept.is_empty() {
        return Err(CampaignTableError::NoContacts(campaign.into(), arm_name));
    }
    let positives = kept.iter().filter(|c| c.outcome).count();
    if positives == 0 || positives == kept.len() {
        return Err(CampaignTableError::OneClass {
            campaign: campaign.into(),
            outcome: outcome.into(),
            rows: kept.len(),
            positives,
        });
    }
    let rows = parse_inputs(campaign, &kept)?;
    let columns: Vec<String> = rows[0].keys().cloned().collect();
    let write_error = |source| CampaignTableError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut writer = csv::Writer::from_path(path).map_err(|e| write_error(e.into()))?;
    let header = std::iter::once(ID_COLUMN)
        .chain(columns.iter().map(String::as_str))
        .chain(uplift.then_some(ARM_COLUMN))
        .chain(std::iter::once(LABEL_COLUMN));
    writer
        .write_record(header)
        .map_err(|e| write_error(e.into()))?;
    for (contact, inputs) in kept.iter().zip(&rows) {
        let cells = columns.iter().map(|c| cell(inputs.get(c)));
        let arm_cell = uplift.then(|| contact.arm.as_str().to_string());
        let record = std::iter::once(contact.customer_id.clone())
            .chain(cells)
            .chain(arm_cell)
            .chain(std::iter::once(u8::from(contact.outcome).to_string()));
        writer
            .write_record(record)
            .map_err(|e| write_error(e.into()))?;
    }
    writer.flush().map_err(write_error)?;
    Ok(CampaignSource {
        campaign: campaign.into(),
        outcome: outcome.into(),
        arm,
        rows: kept.len(),
        positives,
        uplift,
    })
}

type Inputs = serde_json::Map<String, serde_json::Value>;

fn parse_inputs(
    campaign: &str,
    kept: &[&ContactInputs],
) -> Result<Vec<Inputs>, CampaignTableError> {
    kept.iter()
        .map(|c| {
            serde_json::from_str::<Inputs>(&c.inputs).map_err(|e| CampaignTableError::Inputs {
                campaign: campaign.into(),
                customer: c.customer_id.clone(),
                reason: e.to_string(),
            })
        })
        .collect()
}

/// A stored value as a CSV cell (null and absent as an empty cell, read as missing).
fn cell(value: Option<&serde_json::Value>) -> String {
    match value {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(id: &str, arm: Arm, outcome: bool) -> ContactInputs {
        ContactInputs {
            customer_id: id.into(),
            arm,
            inputs: r#"{"tenure":3.0,"plan":"Two year","note":null}"#.into(),
            outcome,
        }
    }

    #[test]
    fn writes_the_arm_with_a_binary_label() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let contacts = [
            contact("a", Arm::Treatment, true),
            contact("b", Arm::Treatment, false),
            contact("c", Arm::Control, true),
        ];
        let source = write_campaign_table(
            "spring",
            "responded",
            ArmChoice::Treatment,
            &contacts,
            &path,
        )
        .unwrap();
        assert_eq!((source.rows, source.positives), (2, 1));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "customer_id,note,plan,tenure,campaign_outcome\na,,Two year,3.0,1\nb,,Two year,3.0,0\n"
        );
    }

    #[test]
    fn the_uplift_table_keeps_both_arms_with_their_arm() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let contacts = [
            contact("a", Arm::Treatment, true),
            contact("c", Arm::Control, false),
        ];
        let source = write_uplift_table("spring", "responded", &contacts, &path).unwrap();
        assert!(source.uplift);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "customer_id,note,plan,tenure,campaign_arm,campaign_outcome\n\
             a,,Two year,3.0,treatment,1\nc,,Two year,3.0,control,0\n"
        );
    }

    #[test]
    fn refuses_one_class_and_an_empty_arm() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let contacts = [contact("a", Arm::Treatment, true)];
        let one = write_campaign_table("s", "responded", ArmChoice::All, &contacts, &path);
        assert!(matches!(one, Err(CampaignTableError::OneClass { .. })));
        let none = write_campaign_table("s", "responded", ArmChoice::Control, &contacts, &path);
        assert!(matches!(none, Err(CampaignTableError::NoContacts(..))));
    }
}
