use super::csv_input::{self, Next, Record, RecordReader};
use super::{
    is_missing, parse_number, CellIssue, Column, ColumnData, DataError, DataQuality, DuplicateId,
    Table, Text,
};
use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::Path;

/// Share of non-missing cells that must parse as numbers for a column to be numeric;
/// the rest are reported as out-of-domain cells and read as missing.
const NUMERIC_SHARE: f64 = 0.98;
/// Below this many values a single stray text cell makes the column categorical.
const MIN_VALUES_FOR_TOLERANCE: usize = 50;

/// What the caller knows about the file before reading it.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Column holding the customer id; the data row number when absent.
    pub id: Option<String>,
    /// Columns that must exist, each with the role it plays (for the error message).
    pub required: Vec<(String, &'static str)>,
    /// Columns always read as text (a label like `churned=1` compares as text).
    pub as_text: Vec<String>,
}

/// Read a customer table (one row per customer) from a CSV file.
pub fn read_customers(path: &Path, options: &ReadOptions) -> Result<Table, DataError> {
    let open_error = |source| DataError::Open {
        path: path.to_path_buf(),
        source,
    };
    // Parsed as it streams from the file: the file is never held in memory whole.
    let mut file = csv_input::open_hashed(path).map_err(open_error)?;
    let raw = match csv_input::is_gzip(&mut file).map_err(open_error)? {
        true => RawRows::parse(path, csv_input::gunzipping(&mut file), options)?,
        false => RawRows::parse(path, &mut file, options)?,
    };
    // The sha256 is of the file as stored, including anything the parser left unread.
    std::io::copy(&mut file, &mut std::io::sink()).map_err(open_error)?;
    let sha256 = file.sha256_hex();
    let mut table = raw.into_table(options);
    table.source = path.display().to_string();
    table.sha256 = sha256;
    if table.rows() == 0 {
        let first = table
            .quality
            .rejected
            .first()
            .map(|r| format!("line {}: {}", r.line, r.reason))
            .unwrap_or_else(|| "the file has a header but no rows".into());
        return Err(DataError::NoRows {
            path: path.to_path_buf(),
            rejected: table.quality.rejected_total,
            first,
        });
    }
    Ok(table)
}

/// The file split into header and rows of text cells, before any typing.
struct RawRows {
    header: Vec<String>,
    id_index: Option<usize>,
    ids: Vec<String>,
    lines: Vec<u64>,
    /// cells[column], id column included (it is skipped when typing).
    cells: Vec<TextCells>,
    quality: DataQuality,
}

impl RawRows {
    fn parse(path: &Path, body: impl BufRead, options: &ReadOptions) -> Result<Self, DataError> {
        let mut reader = RecordReader::new(body);
        let header = csv_input::file_header(path, &mut reader)?;
        let find = |name: &str, role: &'static str| super::find_column(path, &header, name, role);
        let id_index = options.id.as_deref().map(|id| find(id, "id")).transpose()?;
        for (name, role) in &options.required {
            find(name, role)?;
        }
        let mut raw = RawRows {
            cells: vec![TextCells::default(); header.len()],
            header,
            id_index,
            ids: Vec::new(),
            lines: Vec::new(),
            quality: DataQuality::default(),
        };
        let mut record = Record::default();
        let read_error = |source| DataError::Open {
            path: path.to_path_buf(),
            source,
        };
        loop {
            match reader.read(&mut record).map_err(read_error)? {
                Next::End => return Ok(raw),
                Next::Record => raw.push(&record),
                Next::TooLong => {
                    raw.quality.rows_read += 1;
                    raw.quality
                        .reject(record.line(), csv_input::too_long_reason());
                }
            }
        }
    }

    fn push(&mut self, record: &Record) {
        let line = record.line();
        self.quality.rows_read += 1;
        let row_number = self.quality.rows_read;
        if record.len() != self.header.len() {
            let hint = if record.len() < self.header.len() {
                " (truncated row or unterminated quote?)"
            } else {
                " (unquoted delimiter in a value?)"
            };
            self.quality.reject(
                line,
                format!(
                    "expected {} fields, found {}{hint}",
                    self.header.len(),
                    record.len()
                ),
            );
            return;
        }
        let mut row = Vec::with_capacity(record.len());
        for (index, field) in record.iter().enumerate() {
            match std::str::from_utf8(field) {
                Ok(text) => row.push(text),
                Err(_) => {
                    self.quality.reject(
                        line,
                        format!(
                            "column {} (`{}`): value is not valid UTF-8",
                            index + 1,
                            self.header[index]
                        ),
                    );
                    return;
                }
            }
        }
        let id = match self.id_index {
            None => row_number.to_string(),
            Some(i) if is_missing(row[i]) => {
                self.quality.reject(
                    line,
                    format!("column `{}`: the id is missing", self.header[i]),
                );
                return;
            }
            Some(i) => row[i].trim().to_string(),
        };
        self.ids.push(id);
        self.lines.push(line);
        for (column, cell) in self.cells.iter_mut().zip(row) {
            column.push(cell);
        }
    }

    fn into_table(self, options: &ReadOptions) -> Table {
        let mut quality = self.quality;
        quality.rows_accepted = self.ids.len();
        record_duplicates(&self.ids, &self.lines, &mut quality);
        let mut columns = Vec::new();
        for (index, (name, cells)) in self.header.iter().zip(self.cells).enumerate() {
            if Some(index) == self.id_index {
                continue;
            }
            let text_only = options.as_text.iter().any(|t| t == name);
            let column = type_column(name, cells, text_only, &self.lines, &mut quality);
            note_column_findings(&column, &mut quality);
            columns.push(column);
        }
        Table {
            source: String::new(),
            sha256: String::new(),
            ids: self.ids,
            lines: self.lines,
            columns,
            quality,
        }
    }
}

/// One column's cells as read: their text end to end and where each ends, so a column
/// of a million rows is two allocations, not a million strings.
#[derive(Debug, Clone, Default)]
struct TextCells {
    text: String,
    ends: Vec<usize>,
}

impl TextCells {
    fn push(&mut self, cell: &str) {
        self.text.push_str(cell);
        self.ends.push(self.text.len());
    }

    fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.text[start..end])
    }
}

/// Numeric when (nearly) every non-missing cell is a number; otherwise text.
fn type_column(
    name: &str,
    cells: TextCells,
    text_only: bool,
    lines: &[u64],
    quality: &mut DataQuality,
) -> Column {
    let present = cells.iter().filter(|c| !is_missing(c)).count();
    let numeric = cells
        .iter()
        .filter(|c| !is_missing(c) && parse_number(c).is_some())
        .count();
    let tolerated =
        present >= MIN_VALUES_FOR_TOLERANCE && numeric as f64 >= NUMERIC_SHARE * present as f64;
    let is_numeric = !text_only && present > 0 && (numeric == present || tolerated);
    let data = if is_numeric {
        let values = cells
            .iter()
            .zip(lines)
            .map(|(cell, &line)| {
                if is_missing(cell) {
                    return None;
                }
                let value = parse_number(cell);
                if value.is_none() {
                    quality.out_of_domain(CellIssue {
                        line,
                        column: name.to_string(),
                        value: Some(cell.to_string()),
                        reason: "is not a number in a numeric column".into(),
                    });
                }
                value
            })
            .collect();
        ColumnData::Numeric(values)
    } else {
        let mut interned = Interner::default();
        ColumnData::Categorical(
            cells
                .iter()
                .map(|c| (!is_missing(c)).then(|| interned.get(c.trim())))
                .collect(),
        )
    };
    Column {
        name: name.to_string(),
        data,
    }
}

/// One shared [`Text`] per distinct value of a column.
#[derive(Default)]
struct Interner(HashSet<Text>);

impl Interner {
    fn get(&mut self, value: &str) -> Text {
        if let Some(text) = self.0.get(value) {
            return text.clone();
        }
        let text = Text::from(value);
        self.0.insert(text.clone());
        text
    }
}

fn note_column_findings(column: &Column, quality: &mut DataQuality) {
    let missing = column.missing();
    if missing > 0 {
        quality.missing.push((column.name.clone(), missing));
    }
    let distinct = match &column.data {
        ColumnData::Numeric(v) => v
            .iter()
            .flatten()
            .map(|x| x.to_bits())
            .collect::<HashSet<_>>()
            .len(),
        ColumnData::Categorical(v) => v.iter().flatten().collect::<HashSet<_>>().len(),
    };
    let present = column.len() - missing;
    if distinct <= 1 {
        quality.constant_columns.push(column.name.clone());
    } else if column.categorical().is_some() && present > 50 && distinct * 10 >= present * 9 {
        quality.identifier_columns.push(column.name.clone());
    }
}

fn record_duplicates(ids: &[String], lines: &[u64], quality: &mut DataQuality) {
    let mut seen: HashMap<&str, Vec<u64>> = HashMap::new();
    for (id, &line) in ids.iter().zip(lines) {
        seen.entry(id).or_default().push(line);
    }
    let mut duplicates: Vec<DuplicateId> = seen
        .into_iter()
        .filter(|(_, l)| l.len() > 1)
        .map(|(id, lines)| DuplicateId {
            id: Some(id.to_string()),
            lines,
        })
        .collect();
    duplicates.sort_by_key(|d| d.lines[0]);
    quality.duplicate_id_total = duplicates.len();
    duplicates.truncate(super::quality::MAX_EXAMPLES);
    quality.duplicate_ids = duplicates;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read(text: &[u8], options: &ReadOptions) -> Result<Table, DataError> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text).unwrap();
        read_customers(file.path(), options)
    }

    #[test]
    fn infers_types_and_missing_values() {
        let t = read(
            b"id,tenure,plan,charges\na,1,basic, \nb,2,gold,3.5\nc,3,basic,4\n",
            &ReadOptions {
                id: Some("id".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(t.ids, ["a", "b", "c"]);
        assert_eq!(t.column("tenure").unwrap().numeric().unwrap()[2], Some(3.0));
        assert!(t.column("plan").unwrap().categorical().is_some());
        assert_eq!(t.column("charges").unwrap().numeric().unwrap()[0], None);
        assert_eq!(t.quality.missing, vec![("charges".to_string(), 1)]);
        assert_eq!(t.lines, [2, 3, 4]);
    }

    #[test]
    fn ragged_and_non_utf8_rows_are_rejected_with_their_line() {
        let t = read(
            b"a,b\n1,2\n3\n4,5,6\n\xff\xfe,7\n8,9\n",
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(t.rows(), 2);
        assert_eq!(t.quality.rows_read, 5);
        let lines: Vec<u64> = t.quality.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 4, 5]);
        assert!(t.quality.rejected[2].reason.contains("column 1 (`a`)"));
        // Row ids are data row numbers, so rejected rows leave gaps.
        assert_eq!(t.ids, ["1", "5"]);
    }

    #[test]
    fn bom_is_stripped_and_missing_column_is_named() {
        let t = read(b"\xEF\xBB\xBFid,x\n1,2\n", &ReadOptions::default()).unwrap();
        assert_eq!(t.column_names(), ["id", "x"]);
        let err = read(
            b"id,x\n1,2\n",
            &ReadOptions {
                id: Some("customer".into()),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("no column named `customer` (id)"), "{err}");
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn stray_text_in_a_long_numeric_column_is_out_of_domain() {
        let mut text = String::from("x\n");
        for i in 0..99 {
            text.push_str(&format!("{i}\n"));
        }
        text.push_str("oops\n");
        let t = read(text.as_bytes(), &ReadOptions::default()).unwrap();
        assert!(t.column("x").unwrap().numeric().is_some());
        assert_eq!(t.quality.out_of_domain_total, 1);
        assert_eq!(t.quality.out_of_domain[0].line, 101);
    }

    #[test]
    fn duplicates_constants_and_identifiers_are_reported() {
        let mut text = String::from("id,same,code\n");
        for i in 0..60 {
            text.push_str(&format!("{},1,c{i}\n", i % 59));
        }
        let t = read(
            text.as_bytes(),
            &ReadOptions {
                id: Some("id".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(t.quality.duplicate_id_total, 1);
        assert_eq!(t.quality.duplicate_ids[0].lines, [2, 61]);
        assert_eq!(t.quality.constant_columns, ["same"]);
        assert_eq!(t.quality.identifier_columns, ["code"]);
    }

    #[test]
    fn empty_and_header_only_files_are_errors() {
        assert!(matches!(
            read(b"", &ReadOptions::default()),
            Err(DataError::Empty { .. })
        ));
        assert!(matches!(
            read(b"a,b\n", &ReadOptions::default()),
            Err(DataError::NoRows { .. })
        ));
    }
}
