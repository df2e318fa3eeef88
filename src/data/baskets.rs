//! Baskets for association rules: sets of items, stored flat (one `Vec<u32>` of item ids
//! plus offsets) so millions of lines cost two allocations, not one per basket.
//! [`BasketBuilder`] turns (order id, item) pairs from any source into baskets;
//! [`read_baskets`] reads a long-format CSV (one row per basket line) with it.

use super::csv_input::{self, Next, Record, RecordReader};
use super::DataError;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// Item sets over a shared item dictionary. Items within a basket are distinct and sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Baskets {
    /// Item names, indexed by item id.
    pub names: Vec<String>,
    offsets: Vec<usize>,
    items: Vec<u32>,
}

impl Baskets {
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn basket(&self, index: usize) -> &[u32] {
        &self.items[self.offsets[index]..self.offsets[index + 1]]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u32]> + '_ {
        (0..self.len()).map(|b| self.basket(b))
    }

    /// Total basket lines (item occurrences) after de-duplication.
    pub fn occurrences(&self) -> usize {
        self.items.len()
    }

    /// Baskets from lists of item names (tests, holdings).
    pub fn from_lists<L, S>(lists: L) -> Self
    where
        L: IntoIterator,
        L::Item: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut builder = BasketBuilder::default();
        for (order, list) in lists.into_iter().enumerate() {
            builder.start_basket(order);
            for item in list {
                builder.add_to_current(item.as_ref());
            }
        }
        builder.finish()
    }

    /// The baskets at `keep` (e.g. a training split), sharing the item dictionary.
    pub fn select(&self, keep: &[usize]) -> Baskets {
        let mut out = Baskets {
            names: self.names.clone(),
            offsets: vec![0],
            items: Vec::new(),
        };
        for &b in keep {
            out.items.extend_from_slice(self.basket(b));
            out.offsets.push(out.items.len());
        }
        out
    }

    /// Item id of a name.
    pub fn item_id(&self, name: &str) -> Option<u32> {
        self.names.iter().position(|n| n == name).map(|i| i as u32)
    }
}

/// Collects (order id, item) pairs in any order and groups them into baskets, in order of
/// each order's first line. Repeated items in one order count once.
#[derive(Debug, Default)]
pub struct BasketBuilder {
    item_ids: HashMap<String, u32>,
    names: Vec<String>,
    orders: HashMap<String, usize>,
    lists: Vec<Vec<u32>>,
    current: usize,
}

impl BasketBuilder {
    /// Add one line of an order.
    pub fn add(&mut self, order: &str, item: &str) {
        let next = self.lists.len();
        let index = match self.orders.get(order) {
            Some(&i) => i,
            None => {
                self.orders.insert(order.to_string(), next);
                self.lists.push(Vec::new());
                next
            }
        };
        let id = self.item_id(item);
        self.lists[index].push(id);
    }

    /// Start a basket known to be new (holdings: one per customer), skipping the order map.
    pub fn start_basket(&mut self, _row: usize) {
        self.lists.push(Vec::new());
        self.current = self.lists.len() - 1;
    }

    pub fn add_to_current(&mut self, item: &str) {
        let id = self.item_id(item);
        if let Some(list) = self.lists.get_mut(self.current) {
            list.push(id);
        }
    }

    fn item_id(&mut self, item: &str) -> u32 {
        match self.item_ids.get(item) {
            Some(&id) => id,
            None => {
                let id = self.names.len() as u32;
                self.item_ids.insert(item.to_string(), id);
                self.names.push(item.to_string());
                id
            }
        }
    }

    /// The baskets sorted by order id, each basket's items by name, item ids given in
    /// that order: the same baskets whatever order the log's lines came in.
    pub fn finish_by_order_id(self) -> Baskets {
        let mut orders: Vec<(String, usize)> = self.orders.into_iter().collect();
        orders.sort_unstable();
        let names = &self.names;
        let lists = orders.iter().map(|(_, index)| {
            let mut items: Vec<&str> = (self.lists[*index].iter())
                .map(|&id| names[id as usize].as_str())
                .collect();
            items.sort_unstable();
            items.dedup();
            items
        });
        Baskets::from_lists(lists)
    }

    pub fn finish(self) -> Baskets {
        let total = self.lists.iter().map(Vec::len).sum();
        let mut items = Vec::with_capacity(total);
        let mut offsets = Vec::with_capacity(self.lists.len() + 1);
        offsets.push(0);
        for mut list in self.lists {
            list.sort_unstable();
            list.dedup();
            items.extend_from_slice(&list);
            offsets.push(items.len());
        }
        Baskets {
            names: self.names,
            offsets,
            items,
        }
    }
}

/// How to read a long-format basket file.
#[derive(Debug, Clone, Default)]
pub struct BasketOptions {
    pub order_col: String,
    pub item_col: String,
    /// Skip lines whose order id starts with this (Online Retail marks cancellations `C…`).
    pub cancelled_prefix: Option<String>,
    /// Skip lines whose quantity in this column is zero or negative (returns, corrections).
    pub quantity_col: Option<String>,
}

/// What reading the basket file found and skipped (printed by `custscore rules`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BasketReport {
    pub lines: usize,
    pub cancelled_lines: usize,
    pub non_positive_lines: usize,
    pub blank_lines: usize,
    /// Lines kept although their order id starts with `C` (no --cancelled-prefix given).
    pub kept_c_lines: usize,
}

impl fmt::Display for BasketReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} lines read", self.lines)?;
        if self.cancelled_lines > 0 {
            write!(f, ", {} cancelled lines skipped", self.cancelled_lines)?;
        }
        if self.non_positive_lines > 0 {
            write!(
                f,
                ", {} lines with quantity <= 0 skipped",
                self.non_positive_lines
            )?;
        }
        if self.blank_lines > 0 {
            write!(
                f,
                ", {} lines with a blank order or item skipped",
                self.blank_lines
            )?;
        }
        if self.kept_c_lines > 0 {
            write!(
                f,
                "; note: {} lines in orders whose id starts with `C` (cancellations in \
                 Online Retail exports) were kept: pass --cancelled-prefix C to skip them",
                self.kept_c_lines
            )?;
        }
        Ok(())
    }
}

/// Read a long-format basket CSV: one row per basket line.
pub fn read_baskets(
    path: &Path,
    options: &BasketOptions,
) -> Result<(Baskets, BasketReport), DataError> {
    let open_error = |source| DataError::Open {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = RecordReader::new(csv_input::open(path).map_err(open_error)?);
    let header = csv_input::file_header(path, &mut reader)?;
    let columns = LineColumns::find(path, &header, options)?;
    let mut builder = BasketBuilder::default();
    let mut report = BasketReport::default();
    let mut record = Record::default();
    loop {
        match reader.read(&mut record).map_err(open_error)? {
            Next::End => break,
            Next::Record => {}
            Next::TooLong => {
                return Err(DataError::Malformed {
                    path: path.to_path_buf(),
                    line: record.line(),
                    message: csv_input::too_long_reason(),
                })
            }
        }
        report.lines += 1;
        columns.take(path, &record, options, &mut builder, &mut report)?;
    }
    Ok((builder.finish(), report))
}

/// Column positions of the fields a basket line needs.
struct LineColumns<'h> {
    header: &'h [String],
    order: usize,
    item: usize,
    quantity: Option<usize>,
}

impl<'h> LineColumns<'h> {
    fn find(path: &Path, header: &'h [String], options: &BasketOptions) -> Result<Self, DataError> {
        let find = |name: &str, role: &'static str| super::find_column(path, header, name, role);
        Ok(LineColumns {
            header,
            order: find(&options.order_col, "--order-col")?,
            item: find(&options.item_col, "--item-col")?,
            quantity: options
                .quantity_col
                .as_deref()
                .map(|q| find(q, "--quantity-col"))
                .transpose()?,
        })
    }

    fn field<'r>(
        &self,
        path: &Path,
        record: &'r Record,
        index: usize,
    ) -> Result<&'r str, DataError> {
        let line = record.line();
        let bytes = record.get(index).ok_or_else(|| DataError::Malformed {
            path: path.to_path_buf(),
            line,
            message: format!(
                "column {} (`{}`): the row has only {} fields",
                index + 1,
                self.header[index],
                record.len()
            ),
        })?;
        std::str::from_utf8(bytes)
            .map(str::trim)
            .map_err(|_| DataError::Malformed {
                path: path.to_path_buf(),
                line,
                message: format!(
                    "column {} (`{}`): value is not valid UTF-8",
                    index + 1,
                    self.header[index]
                ),
            })
    }

    fn take(
        &self,
        path: &Path,
        record: &Record,
        options: &BasketOptions,
        builder: &mut BasketBuilder,
        report: &mut BasketReport,
    ) -> Result<(), DataError> {
        let order = self.field(path, record, self.order)?;
        let item = self.field(path, record, self.item)?;
        if order.is_empty() || item.is_empty() {
            report.blank_lines += 1;
            return Ok(());
        }
        match &options.cancelled_prefix {
            Some(prefix) if order.starts_with(prefix.as_str()) => {
                report.cancelled_lines += 1;
                return Ok(());
            }
            None if order.starts_with('C') => report.kept_c_lines += 1,
            _ => {}
        }
        if let Some(q) = self.quantity {
            let cell = self.field(path, record, q)?;
            let quantity = super::parse_number(cell).ok_or_else(|| DataError::Malformed {
                path: path.to_path_buf(),
                line: record.line(),
                message: format!(
                    "column {} (`{}`): quantity {cell:?} is not a number",
                    q + 1,
                    self.header[q]
                ),
            })?;
            if quantity <= 0.0 {
                report.non_positive_lines += 1;
                return Ok(());
            }
        }
        builder.add(order, item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_group_into_distinct_sorted_baskets() {
        let mut b = BasketBuilder::default();
        for (order, item) in [("1", "b"), ("2", "a"), ("1", "a"), ("1", "b")] {
            b.add(order, item);
        }
        let baskets = b.finish();
        assert_eq!(baskets.len(), 2);
        assert_eq!(baskets.names, ["b", "a"]);
        assert_eq!(baskets.basket(0), [0, 1]);
        assert_eq!(baskets.basket(1), [1]);
    }

    #[test]
    fn cancelled_and_returned_lines_are_counted_when_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.csv");
        std::fs::write(&path, "o,i,q\n1,x,2\nC2,x,-1\n3,y,-4\n3,x,1\n,z,1\n").unwrap();
        let options = BasketOptions {
            order_col: "o".into(),
            item_col: "i".into(),
            cancelled_prefix: Some("C".into()),
            quantity_col: Some("q".into()),
        };
        let (baskets, report) = read_baskets(&path, &options).unwrap();
        assert_eq!(baskets.len(), 2);
        assert_eq!(report.lines, 5);
        assert_eq!(report.cancelled_lines, 1);
        assert_eq!(report.non_positive_lines, 1);
        assert_eq!(report.blank_lines, 1);
    }

    #[test]
    fn gzip_input_is_read_whatever_its_name() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baskets.csv");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), Default::default());
        gz.write_all(b"\xEF\xBB\xBFo,i\n1,x\n1,y\n2,x\n").unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let options = BasketOptions {
            order_col: "o".into(),
            item_col: "i".into(),
            ..Default::default()
        };
        let (baskets, report) = read_baskets(&path, &options).unwrap();
        assert_eq!((baskets.len(), report.lines), (2, 3));
    }

    #[test]
    fn a_bad_quantity_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.csv");
        std::fs::write(&path, "o,i,q\n1,x,2\n1,y,lots\n").unwrap();
        let options = BasketOptions {
            order_col: "o".into(),
            item_col: "i".into(),
            quantity_col: Some("q".into()),
            ..Default::default()
        };
        let err = read_baskets(&path, &options).unwrap_err().to_string();
        assert!(
            err.contains("line 3") && err.contains("column 3 (`q`)"),
            "{err}"
        );
    }
}
