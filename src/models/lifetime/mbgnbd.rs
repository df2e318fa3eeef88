//! MBG/NBD (Batislam, Denizel & Filiztekin 2007): BG/NBD where a customer may also drop
//! out right after the first purchase, so a one-time buyer of long ago is not assumed
//! alive. Same likelihood as `lifetimes`' `ModifiedBetaGeoFitter`, fitted the same way
//! as BG/NBD (the formulas differ only in b + x − 1 becoming b + x).

use super::bgnbd::{self, BgNbd, Dropout, FitReport};
use super::summary::RepeatSummary;
use super::LifetimeError;
use serde::{Deserialize, Serialize};

/// Fitted MBG/NBD parameters; α is in the time unit of the data it was fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModifiedBgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

impl ModifiedBgNbd {
    pub fn fit(customers: &[RepeatSummary]) -> Result<(ModifiedBgNbd, FitReport), LifetimeError> {
        let (m, report) = bgnbd::fit_variant(customers, Dropout::AtEveryPurchase)?;
        Ok((ModifiedBgNbd::from(m), report))
    }

    /// P(alive | x, t_x, T): below 1 even without repeat purchases.
    pub fn p_alive(&self, c: &RepeatSummary) -> f64 {
        bgnbd::p_alive_variant(&self.as_bgnbd(), c, Dropout::AtEveryPurchase)
    }

    /// Expected purchases in the next `t` time units given the history.
    pub fn expected_purchases(&self, t: f64, c: &RepeatSummary) -> Option<f64> {
        bgnbd::expected_purchases_variant(&self.as_bgnbd(), t, c, Dropout::AtEveryPurchase)
    }

    pub fn mean_log_likelihood(&self, customers: &[RepeatSummary]) -> f64 {
        bgnbd::mean_log_likelihood_variant(&self.as_bgnbd(), customers, Dropout::AtEveryPurchase)
    }

    fn as_bgnbd(&self) -> BgNbd {
        let ModifiedBgNbd { r, alpha, a, b } = *self;
        BgNbd { r, alpha, a, b }
    }
}

impl From<BgNbd> for ModifiedBgNbd {
    fn from(BgNbd { r, alpha, a, b }: BgNbd) -> Self {
        ModifiedBgNbd { r, alpha, a, b }
    }
}

#[cfg(test)]
mod tests {
    use super::super::oracle::{assert_known_answers, MBG_CDNOW};
    use super::*;

    #[test]
    fn predictions_match_lifetimes_on_known_parameters() {
        // lifetimes 0.11.3 ModifiedBetaGeoFitter, params_ as fitted on the CDNOW sample.
        let model = ModifiedBgNbd::from(BgNbd {
            r: MBG_CDNOW[0],
            alpha: MBG_CDNOW[1],
            a: MBG_CDNOW[2],
            b: MBG_CDNOW[3],
        });
        assert_known_answers(
            |c| (model.p_alive(c), model.expected_purchases(39.0, c).unwrap()),
            &KNOWN,
        );
    }

    /// (x, t_x, P(alive), E[X(39)]) at T = 38.86 from lifetimes with MBG_CDNOW.
    const KNOWN: [(f64, f64, f64, f64); 3] = [
        (2.0, 30.43, P_ALIVE_2, EXPECTED_2),
        (0.0, 0.0, P_ALIVE_0, EXPECTED_0),
        (25.0, 35.0, P_ALIVE_25, EXPECTED_25),
    ];

    const P_ALIVE_2: f64 = 0.706_126_258_715_401_5;
    const EXPECTED_2: f64 = 1.262_670_778_713_937_5;
    const P_ALIVE_0: f64 = 0.389_716_442_050_168_64;
    const EXPECTED_0: f64 = 0.153_953_644_366_675_86;
    const P_ALIVE_25: f64 = 0.752_059_302_214_447_2;
    const EXPECTED_25: f64 = 12.592_741_433_516_42;
}
