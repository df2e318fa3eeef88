//! Realized AUC per model version, as `models list` and `GET /v1/models` show it: the
//! contact-time churn probability against `churned` events, over every campaign.

use super::{Store, StoreError};
use crate::lifecycle::Registry;
use std::collections::BTreeMap;

/// (realized AUC, contacts) by model version; versions without both classes are left out.
pub fn realized_aucs(store: &mut dyn Store) -> Result<BTreeMap<String, (f64, usize)>, StoreError> {
    let mut rows = Vec::new();
    for campaign in store.campaigns()? {
        rows.extend(store.campaign(&campaign, "churned")?);
    }
    let report = super::evaluate("", "churned", &rows);
    Ok(report
        .versions
        .into_iter()
        .filter_map(|v| Some((v.model_version, (v.auc?, v.contacts))))
        .collect())
}

/// Fill each listed version's realized AUC and contact count.
pub fn attach(registry: &mut Registry, realized: &BTreeMap<String, (f64, usize)>) {
    for v in &mut registry.versions {
        if let Some(&(auc, contacts)) = realized.get(&v.version) {
            v.realized_auc = Some(auc);
            v.realized_contacts = Some(contacts);
        }
    }
}
