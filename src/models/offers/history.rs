//! Per-customer item sets, built from an order log one event at a time. Only items the
//! rules can use are kept (the frequent items: every rule's antecedent and consequent,
//! and every popularity offer, is one), so leaving the others out changes no offer.

use crate::data::transactions::EventRef;
use crate::models::rules::CrossSellModel;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// How a customer's purchases become the rules' antecedent set, and how much is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistorySettings {
    /// Only the items of the customer's last N baskets fire rules (`None`: all items).
    /// Items bought earlier are still never offered.
    pub baskets: Option<usize>,
    /// Most items kept per customer (the most recently bought).
    pub max_items_per_customer: usize,
    /// Most item ids kept over all customers; the customers who bought most recently
    /// are kept first.
    pub max_items_total: usize,
}

impl Default for HistorySettings {
    fn default() -> Self {
        HistorySettings {
            baskets: None,
            max_items_per_customer: 500,
            max_items_total: 2_000_000,
        }
    }
}

/// One customer's items, as ids of the rules' item list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerItems {
    /// Every (frequent) item bought, sorted: never offered.
    pub bought: Vec<u32>,
    /// The items that fire rules (sorted, a subset of `bought`); absent: all of `bought`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recent: Option<Vec<u32>>,
}

impl CustomerItems {
    /// The antecedent set: the recent items, or every item bought.
    pub fn antecedent(&self) -> &[u32] {
        self.recent.as_deref().unwrap_or(&self.bought)
    }
}

/// Item sets of the customers an order log knows; stored in the bundle as `history.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PurchaseHistory {
    pub settings: HistorySettings,
    pub customers: BTreeMap<String, CustomerItems>,
    /// Customers left out by `max_items_total` (they are offered by popularity).
    pub left_out: usize,
}

impl PurchaseHistory {
    pub fn items_of(&self, customer: &str) -> Option<&CustomerItems> {
        self.customers.get(customer)
    }

    /// Item ids kept over all customers.
    pub fn stored_items(&self) -> usize {
        self.customers
            .values()
            .map(|c| c.bought.len() + c.recent.as_ref().map_or(0, Vec::len))
            .sum()
    }

    /// Whether every id is an item of `items` ids and sets are sorted (checked on load).
    pub fn is_consistent(&self, items: usize) -> bool {
        let sorted = |v: &[u32]| v.windows(2).all(|w| w[0] < w[1]);
        let in_range = |v: &[u32]| v.iter().all(|&i| (i as usize) < items);
        self.customers.values().all(|c| {
            sorted(&c.bought)
                && in_range(&c.bought)
                && c.recent.as_deref().is_none_or(|r| {
                    sorted(r) && r.iter().all(|i| c.bought.binary_search(i).is_ok())
                })
        })
    }

    /// The `inspect` line: how many customers and item ids, and what fires rules.
    pub fn describe(&self) -> String {
        let window = match self.settings.baskets {
            Some(n) => format!("items of the last {n} baskets fire rules"),
            None => "every item bought fires rules".to_string(),
        };
        format!(
            "purchase history: {} customers, {} item ids ({window}; never offered again){}\n",
            self.customers.len(),
            self.stored_items(),
            match self.left_out {
                0 => String::new(),
                n => format!("; {n} customers over the total cap offered by popularity"),
            }
        )
    }
}

/// A customer's purchases so far: last purchase time per item and their recent orders.
#[derive(Default)]
struct Purchases {
    /// Builder-local item id → last time bought.
    items: HashMap<u32, NaiveDateTime>,
    /// Order id → (time, builder-local item ids); pruned to the latest when a window is set.
    orders: HashMap<String, (NaiveDateTime, Vec<u32>)>,
    last: Option<NaiveDateTime>,
}

/// Feeds on a log's events (before `cutoff`, purchases only) and gives the item sets
/// once the rules are known. Memory follows distinct (customer, item) pairs.
pub struct HistoryBuilder {
    settings: HistorySettings,
    cutoff: Option<NaiveDateTime>,
    names: HashMap<String, u32>,
    customers: HashMap<String, Purchases>,
}

impl HistoryBuilder {
    pub fn new(settings: HistorySettings, cutoff: Option<NaiveDateTime>) -> Self {
        HistoryBuilder {
            settings,
            cutoff,
            names: HashMap::new(),
            customers: HashMap::new(),
        }
    }

    pub fn add<'e>(&mut self, e: impl Into<EventRef<'e>>) {
        let e: EventRef = e.into();
        let (Some(customer), Some(item)) = (e.customer, e.item) else {
            return;
        };
        if e.is_return() || self.cutoff.is_some_and(|c| e.time >= c) {
            return;
        }
        let next = self.names.len() as u32;
        let id = match self.names.get(item) {
            Some(&id) => id,
            None => *self.names.entry(item.to_string()).or_insert(next),
        };
        let p = match self.customers.get_mut(customer) {
            Some(p) => p,
            None => self.customers.entry(customer.to_string()).or_default(),
        };
        let last = p.items.entry(id).or_insert(e.time);
        *last = (*last).max(e.time);
        p.last = Some(p.last.map_or(e.time, |l| l.max(e.time)));
        if let Some(window) = self.settings.baskets {
            let order = match p.orders.get_mut(e.order) {
                Some(order) => order,
                None => p
                    .orders
                    .entry(e.order.to_string())
                    .or_insert((e.time, Vec::new())),
            };
            order.0 = order.0.min(e.time);
            order.1.push(id);
            if p.orders.len() > 2 * window + 8 {
                keep_latest(&mut p.orders, window);
            }
        }
    }

    /// The item sets as ids of `model`'s items, frequent items only, within the caps.
    pub fn finish(self, model: &CrossSellModel) -> PurchaseHistory {
        let frequent: std::collections::HashSet<u32> = model.popular.iter().copied().collect();
        self.finish_with(|name| model.item_id(name).filter(|id| frequent.contains(id)))
    }

    /// The item sets in the ids `item_id` gives (items it gives none for are left out).
    pub fn finish_with(self, item_id: impl Fn(&str) -> Option<u32>) -> PurchaseHistory {
        let mut to_model = vec![None; self.names.len()];
        for (name, &local) in &self.names {
            to_model[local as usize] = item_id(name);
        }
        let settings = self.settings;
        let mut customers: Vec<(String, NaiveDateTime, CustomerItems)> = self
            .customers
            .into_iter()
            .filter_map(|(customer, mut p)| {
                let last = p.last?;
                let items = customer_items(&mut p, &to_model, &settings);
                Some((customer, last, items))
            })
            .collect();
        // Most recent buyers first under the total cap; ties by id, so it is reproducible.
        customers.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut kept = BTreeMap::new();
        let (mut total, mut left_out) = (0usize, 0usize);
        for (customer, _, items) in customers {
            let size = items.bought.len() + items.recent.as_ref().map_or(0, Vec::len);
            if total + size > settings.max_items_total {
                left_out += 1;
                continue;
            }
            total += size;
            kept.insert(customer, items);
        }
        PurchaseHistory {
            settings,
            customers: kept,
            left_out,
        }
    }
}

/// Keep the `window` latest orders (by time, then order id).
fn keep_latest(orders: &mut HashMap<String, (NaiveDateTime, Vec<u32>)>, window: usize) {
    let mut by_time: Vec<(NaiveDateTime, String)> =
        orders.iter().map(|(o, (t, _))| (*t, o.clone())).collect();
    by_time.sort_unstable_by(|a, b| b.cmp(a));
    for (_, order) in by_time.into_iter().skip(window) {
        orders.remove(&order);
    }
}

fn customer_items(
    p: &mut Purchases,
    to_model: &[Option<u32>],
    settings: &HistorySettings,
) -> CustomerItems {
    let map = |local: u32| to_model.get(local as usize).copied().flatten();
    let mut bought: Vec<(NaiveDateTime, u32)> = p
        .items
        .iter()
        .filter_map(|(&local, &time)| Some((time, map(local)?)))
        .collect();
    // The most recently bought first, when the cap bites.
    bought.sort_unstable_by(|a, b| b.cmp(a));
    bought.truncate(settings.max_items_per_customer);
    let mut bought: Vec<u32> = bought.into_iter().map(|(_, id)| id).collect();
    bought.sort_unstable();
    let recent = settings.baskets.map(|window| {
        keep_latest(&mut p.orders, window);
        let mut recent: Vec<u32> = (p.orders.values())
            .flat_map(|(_, items)| items.iter().filter_map(|&l| map(l)))
            .filter(|id| bought.binary_search(id).is_ok())
            .collect();
        recent.sort_unstable();
        recent.dedup();
        recent
    });
    CustomerItems {
        recent: recent.filter(|r| *r != bought),
        bought,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::transactions::Event;
    use crate::data::Baskets;
    use crate::models::rules::RulesParams;
    use chrono::NaiveDate;

    fn event(customer: &str, order: &str, item: &str, day: u32, qty: f64) -> Event {
        Event {
            customer: Some(customer.into()),
            order: order.into(),
            item: Some(item.into()),
            time: NaiveDate::from_ymd_opt(2011, 1, day)
                .and_then(|d| d.and_hms_opt(10, 0, 0))
                .unwrap(),
            quantity: qty,
            value: qty,
        }
    }

    fn model() -> CrossSellModel {
        let mut lists = vec![vec!["a", "b"]; 10];
        lists.extend(vec![vec!["c", "d"]; 10]);
        lists.push(vec!["rare"]);
        let params = RulesParams {
            min_support: 0.2,
            ..Default::default()
        };
        CrossSellModel::fit(&Baskets::from_lists(lists), &params, Vec::new())
    }

    fn names(m: &CrossSellModel, ids: &[u32]) -> Vec<String> {
        ids.iter().map(|&i| m.items[i as usize].clone()).collect()
    }

    #[test]
    fn last_baskets_fire_rules_and_every_purchase_is_remembered() {
        let m = model();
        let mut builder = HistoryBuilder::new(
            HistorySettings {
                baskets: Some(1),
                ..Default::default()
            },
            NaiveDate::from_ymd_opt(2011, 1, 20).and_then(|d| d.and_hms_opt(0, 0, 0)),
        );
        for e in [
            event("x", "1", "a", 1, 1.0),
            event("x", "1", "rare", 1, 1.0),
            event("x", "2", "c", 5, 1.0),
            event("x", "3", "d", 6, -1.0), // a return: not bought
            event("x", "4", "b", 25, 1.0), // after the cut-off
        ] {
            builder.add(&e);
        }
        let history = builder.finish(&m);
        let x = history.items_of("x").unwrap();
        assert_eq!(names(&m, &x.bought), ["a", "c"]);
        assert_eq!(names(&m, x.antecedent()), ["c"]);
        assert!(history.is_consistent(m.items.len()));
    }

    #[test]
    fn the_total_cap_keeps_the_latest_buyers() {
        let m = model();
        let settings = HistorySettings {
            max_items_total: 2,
            ..Default::default()
        };
        let mut builder = HistoryBuilder::new(settings, None);
        builder.add(&event("old", "1", "a", 1, 1.0));
        builder.add(&event("old", "1", "b", 1, 1.0));
        builder.add(&event("new", "2", "c", 9, 1.0));
        builder.add(&event("new", "2", "d", 9, 1.0));
        let history = builder.finish(&m);
        assert_eq!(history.customers.keys().collect::<Vec<_>>(), ["new"]);
        assert_eq!(history.left_out, 1);
    }
}
