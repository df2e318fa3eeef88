//! The model bundle: `models/<version>/` holds `manifest.json` (schema, metrics, sha256 of
//! every file, library versions, training data hash) and one JSON file per model.
//! A bundle is written to a temporary folder beside its final place, synced, renamed,
//! and only then published by replacing `models/CURRENT` atomically. Loading verifies
//! the format version, every checksum and the schema, and refuses anything else.

use crate::config::Label;
use crate::data::{ColumnKind, DataQuality};
use crate::features::{Encoding, FeatureEncoder};
use crate::models::classifier::{RetentionMetrics, RetentionModel};
use crate::models::rules::{CrossSellModel, HitRate};
use crate::models::segment::{SegmentModel, ValuePyramid};
use crate::models::tree::ReadableTree;
use crate::monitoring::DriftReference;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bumped whenever a change makes older readers misread a bundle.
pub const FORMAT_VERSION: u32 = 1;
pub const CURRENT: &str = "CURRENT";
pub const MANIFEST: &str = "manifest.json";

const ENCODER: &str = "encoder.json";
const SEGMENTS: &str = "segments.json";
const PYRAMID: &str = "pyramid.json";
const QUALITY: &str = "data_quality.json";
const RULES: &str = "rules.json";
const RETENTION: &str = "retention.json";
const TREE: &str = "tree.json";
const DRIFT: &str = "drift_reference.json";

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{}: no model bundle here (no {CURRENT} file); run `custscore train` first", dir.display())]
    NoBundle { dir: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: corrupted bundle: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("{}: bundle format {found} is not supported (this custscore reads format {FORMAT_VERSION}); retrain with this version", path.display())]
    Incompatible { path: PathBuf, found: u32 },
    #[error("{}: could not write the bundle: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainingData {
    pub source: String,
    pub sha256: String,
    pub rows: usize,
}

/// One input column as scoring expects it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SchemaColumn {
    pub name: String,
    pub kind: ColumnKind,
    /// Whether any model uses it (ignored columns are still accepted).
    pub used: bool,
    /// The categories seen in training, for categorical columns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Schema {
    pub id: Option<String>,
    pub label: Option<Label>,
    pub value: Option<String>,
    pub dropped: Vec<String>,
    pub columns: Vec<SchemaColumn>,
}

impl Schema {
    /// The schema the encoder implies, plus what the user told us about roles.
    pub fn from_encoder(
        encoder: &FeatureEncoder,
        id: Option<String>,
        label: Option<Label>,
        value: Option<String>,
        dropped: Vec<String>,
    ) -> Self {
        let columns = encoder
            .inputs
            .iter()
            .map(|input| SchemaColumn {
                name: input.name.clone(),
                kind: if input.is_numeric() {
                    ColumnKind::Numeric
                } else {
                    ColumnKind::Categorical
                },
                used: !matches!(input.encoding, Encoding::Ignored { .. }),
                categories: match &input.encoding {
                    Encoding::OneHot { categories, other } => {
                        let mut all: Vec<String> =
                            categories.iter().chain(other).cloned().collect();
                        all.sort();
                        Some(all)
                    }
                    _ => None,
                },
            })
            .collect();
        Schema {
            id,
            label,
            value,
            dropped,
            columns,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SegmentMetrics {
    pub k: usize,
    pub inertia: f64,
    /// Silhouette of the chosen k, when k was chosen automatically.
    pub silhouette: Option<f64>,
}

/// What the cross-sell rules hold and how well they rank held-out products.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CrossSellMetrics {
    pub baskets: usize,
    pub products: usize,
    pub itemsets: usize,
    pub rules: usize,
    pub hit_rate: HitRate,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Metrics {
    pub segments: SegmentMetrics,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_sell: Option<CrossSellMetrics>,
    /// Churn candidates' cross-validated scores, calibration error, customer equity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionMetrics>,
    /// The training customers scored by the finished bundle (through the Scorer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scored_training: Option<ScoredTraining>,
}

/// What the finished bundle says about its own training customers: the reasons that come
/// up most, and how lifetime value is spread.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ScoredTraining {
    /// (reason without its amount, share of customers for whom it is a top-3 reason).
    pub drivers: Vec<(String, f64)>,
    /// (bin lower edge, bin upper edge, customers) over CLV.
    pub clv_histogram: Vec<(f64, f64, usize)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format_version: u32,
    pub version: String,
    pub created: String,
    pub custscore_version: String,
    pub libraries: BTreeMap<String, String>,
    pub training: TrainingData,
    pub schema: Schema,
    pub metrics: Metrics,
    /// sha256 of every other file in the bundle folder.
    pub files: BTreeMap<String, String>,
    /// How the customer table was built from an order log, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions: Option<TransactionsInfo>,
}

/// The order log's column roles, cut-off and quality findings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TransactionsInfo {
    pub spec: crate::data::transactions::TransactionSpec,
    pub cutoff: String,
    pub quality: crate::data::transactions::LogQuality,
}

/// Everything scoring needs, loaded and verified.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub manifest: Manifest,
    pub encoder: FeatureEncoder,
    pub segments: SegmentModel,
    pub pyramid: Option<ValuePyramid>,
    pub quality: DataQuality,
    /// Cross-sell rules (absent when no holdings columns were given).
    pub rules: Option<CrossSellModel>,
    /// Churn model, calibration, bands and CLV (when trained with a label).
    pub retention: Option<RetentionModel>,
    /// The readable decision tree and its if-then rules (when trained with a label).
    pub tree: Option<ReadableTree>,
    /// The training profile drift is measured against (absent in older bundles).
    pub drift: Option<DriftReference>,
}

/// Versions of the libraries that fitted the models (read from Cargo.lock at build time).
pub fn library_versions() -> BTreeMap<String, String> {
    env!("CUSTSCORE_LIBRARY_VERSIONS")
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, version)| (name.to_string(), version.to_string()))
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    crate::data::sha256_hex(bytes)
}

fn to_json<T: Serialize>(value: &T, name: &str) -> Result<Vec<u8>, BundleError> {
    serde_json::to_vec_pretty(value).map_err(|e| BundleError::Write {
        path: PathBuf::from(name),
        reason: e.to_string(),
    })
}

impl Bundle {
    /// The model files other than the manifest, serialized.
    fn model_files(&self) -> Result<Vec<(&'static str, Vec<u8>)>, BundleError> {
        let mut files = vec![
            (ENCODER, to_json(&self.encoder, ENCODER)?),
            (SEGMENTS, to_json(&self.segments, SEGMENTS)?),
            (QUALITY, to_json(&self.quality, QUALITY)?),
        ];
        if let Some(pyramid) = &self.pyramid {
            files.push((PYRAMID, to_json(pyramid, PYRAMID)?));
        }
        if let Some(rules) = &self.rules {
            files.push((RULES, to_json(rules, RULES)?));
        }
        if let Some(retention) = &self.retention {
            files.push((RETENTION, to_json(retention, RETENTION)?));
        }
        if let Some(tree) = &self.tree {
            files.push((TREE, to_json(tree, TREE)?));
        }
        if let Some(drift) = &self.drift {
            files.push((DRIFT, to_json(drift, DRIFT)?));
        }
        Ok(files)
    }

    /// Write the bundle under `models_dir/<version>/` and make it CURRENT. The version in
    /// the manifest is made unique within the folder; the final one is returned.
    pub fn save(&mut self, models_dir: &Path) -> Result<PathBuf, BundleError> {
        fs::create_dir_all(models_dir).map_err(io_error(models_dir))?;
        let base = self.manifest.version.clone();
        let mut version = base.clone();
        for n in 2.. {
            if !models_dir.join(&version).exists() {
                break;
            }
            version = format!("{base}-{n}");
        }
        self.manifest.version = version.clone();
        let files = self.model_files()?;
        self.manifest.files = files
            .iter()
            .map(|(name, bytes)| (name.to_string(), sha256_hex(bytes)))
            .collect();
        let manifest = to_json(&self.manifest, MANIFEST)?;

        let staging = tempfile::Builder::new()
            .prefix(&format!(".staging-{version}-"))
            .tempdir_in(models_dir)
            .map_err(io_error(models_dir))?;
        for (name, bytes) in files
            .iter()
            .map(|(n, b)| (*n, b))
            .chain([(MANIFEST, &manifest)])
        {
            write_synced(&staging.path().join(name), bytes)?;
        }
        sync_dir(staging.path())?;
        let final_dir = models_dir.join(&version);
        let staged = staging.keep();
        fs::rename(&staged, &final_dir).map_err(io_error(&final_dir))?;
        sync_dir(models_dir)?;
        publish_current(models_dir, &version)?;
        Ok(final_dir)
    }

    /// Load the version named, or the one `CURRENT` points to, and verify it.
    pub fn load(models_dir: &Path, version: Option<&str>) -> Result<Bundle, BundleError> {
        let version = match version {
            Some(v) => v.to_string(),
            None => current_version(models_dir)?,
        };
        let dir = models_dir.join(&version);
        let manifest_path = dir.join(MANIFEST);
        let manifest_bytes = fs::read(&manifest_path).map_err(io_error(&manifest_path))?;
        let format: FormatProbe = parse_json(&manifest_path, &manifest_bytes)?;
        if format.format_version != FORMAT_VERSION {
            return Err(BundleError::Incompatible {
                path: manifest_path,
                found: format.format_version,
            });
        }
        let manifest: Manifest = parse_json(&manifest_path, &manifest_bytes)?;
        if manifest.version != version {
            return Err(corrupt(
                &manifest_path,
                format!(
                    "manifest names version {:?}, folder is {version:?}",
                    manifest.version
                ),
            ));
        }
        let read = |name: &str| read_verified(&dir, name, &manifest);
        let encoder: FeatureEncoder = parse_json(&dir.join(ENCODER), &read(ENCODER)?)?;
        let bundle = Bundle {
            encoder: encoder.restore(),
            segments: parse_json(&dir.join(SEGMENTS), &read(SEGMENTS)?)?,
            quality: parse_json(&dir.join(QUALITY), &read(QUALITY)?)?,
            pyramid: match manifest.files.contains_key(PYRAMID) {
                true => Some(parse_json(&dir.join(PYRAMID), &read(PYRAMID)?)?),
                false => None,
            },
            rules: match manifest.files.contains_key(RULES) {
                true => {
                    Some(parse_json::<CrossSellModel>(&dir.join(RULES), &read(RULES)?)?.restore())
                }
                false => None,
            },
            retention: match manifest.files.contains_key(RETENTION) {
                true => Some(parse_json(&dir.join(RETENTION), &read(RETENTION)?)?),
                false => None,
            },
            tree: match manifest.files.contains_key(TREE) {
                true => Some(parse_json(&dir.join(TREE), &read(TREE)?)?),
                false => None,
            },
            drift: match manifest.files.contains_key(DRIFT) {
                true => Some(parse_json(&dir.join(DRIFT), &read(DRIFT)?)?),
                false => None,
            },
            manifest,
        };
        bundle.check_consistency(&dir)?;
        Ok(bundle)
    }

    /// The parts must agree with each other and with the manifest's schema.
    fn check_consistency(&self, dir: &Path) -> Result<(), BundleError> {
        let expected = Schema::from_encoder(
            &self.encoder,
            self.manifest.schema.id.clone(),
            self.manifest.schema.label.clone(),
            self.manifest.schema.value.clone(),
            self.manifest.schema.dropped.clone(),
        );
        if expected.columns != self.manifest.schema.columns {
            return Err(corrupt(
                &dir.join(ENCODER),
                "encoder columns do not match the manifest schema".into(),
            ));
        }
        let width = self.encoder.n_features();
        if self.segments.centroids.is_empty()
            || self.segments.centroids.iter().any(|c| c.len() != width)
            || self.segments.profiles.len() != self.segments.centroids.len()
        {
            return Err(corrupt(
                &dir.join(SEGMENTS),
                format!("segment centroids do not have the encoder's {width} features"),
            ));
        }
        if let Some(rules) = &self.rules {
            let known = |c: &String| self.encoder.input_index(c).is_some();
            if !rules.is_consistent() || !rules.holdings.iter().all(known) {
                return Err(corrupt(
                    &dir.join(RULES),
                    "rules name products or holdings columns the bundle does not have".into(),
                ));
            }
        }
        if let Some(retention) = &self.retention {
            if !retention.model.fits_width(width) {
                return Err(corrupt(
                    &dir.join(RETENTION),
                    format!("churn model does not fit the encoder's {width} features"),
                ));
            }
            let margin = retention.value.as_ref().map(|v| &v.settings.margin);
            if let Some(m) = margin.filter(|m| self.encoder.input_index(m).is_none()) {
                return Err(corrupt(
                    &dir.join(RETENTION),
                    format!("margin column `{m}` is not an input column"),
                ));
            }
        }
        if let Some(tree) = &self.tree {
            if !tree.tree.is_well_formed(width) {
                return Err(corrupt(
                    &dir.join(TREE),
                    format!("tree does not fit the encoder's {width} features"),
                ));
            }
        }
        if let (Some(value), Some(pyramid)) = (&self.manifest.schema.value, &self.pyramid) {
            if &pyramid.column != value || self.encoder.input_index(value).is_none() {
                return Err(corrupt(
                    &dir.join(PYRAMID),
                    format!("value column `{value}` is not an input column"),
                ));
            }
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct FormatProbe {
    format_version: u32,
}

fn corrupt(path: &Path, reason: String) -> BundleError {
    BundleError::Corrupt {
        path: path.to_path_buf(),
        reason,
    }
}

fn parse_json<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, BundleError> {
    serde_json::from_slice(bytes).map_err(|e| corrupt(path, format!("invalid JSON: {e}")))
}

fn read_verified(dir: &Path, name: &str, manifest: &Manifest) -> Result<Vec<u8>, BundleError> {
    let path = dir.join(name);
    let expected = manifest
        .files
        .get(name)
        .ok_or_else(|| corrupt(&dir.join(MANIFEST), format!("{name} is not listed")))?;
    let bytes = fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => corrupt(&path, "file is missing".into()),
        _ => BundleError::Io {
            path: path.clone(),
            source: e,
        },
    })?;
    let actual = sha256_hex(&bytes);
    if &actual != expected {
        return Err(corrupt(
            &path,
            format!("sha256 is {actual}, manifest says {expected}"),
        ));
    }
    Ok(bytes)
}

/// The version `CURRENT` points to.
pub fn current_version(models_dir: &Path) -> Result<String, BundleError> {
    let path = models_dir.join(CURRENT);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BundleError::NoBundle {
                dir: models_dir.to_path_buf(),
            })
        }
        Err(e) => return Err(io_error(&path)(e)),
    };
    let version = text.trim();
    let valid = !version.is_empty()
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !version.starts_with('.');
    if !valid {
        return Err(corrupt(
            &path,
            format!("{version:?} is not a bundle version"),
        ));
    }
    Ok(version.to_string())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    let mut file = File::create(path).map_err(io_error(path))?;
    file.write_all(bytes).map_err(io_error(path))?;
    file.sync_all().map_err(io_error(path))
}

fn sync_dir(dir: &Path) -> Result<(), BundleError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

/// Replace `CURRENT` so readers see the old version or the new one, never half a file.
fn publish_current(models_dir: &Path, version: &str) -> Result<(), BundleError> {
    let target = models_dir.join(CURRENT);
    let mut tmp = tempfile::NamedTempFile::new_in(models_dir).map_err(io_error(models_dir))?;
    writeln!(tmp, "{version}").map_err(io_error(&target))?;
    tmp.as_file().sync_all().map_err(io_error(&target))?;
    tmp.persist(&target).map_err(|e| BundleError::Io {
        path: target.clone(),
        source: e.error,
    })?;
    sync_dir(models_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_must_name_a_plain_version() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            current_version(dir.path()),
            Err(BundleError::NoBundle { .. })
        ));
        fs::write(dir.path().join(CURRENT), "../etc\n").unwrap();
        assert!(matches!(
            current_version(dir.path()),
            Err(BundleError::Corrupt { .. })
        ));
        fs::write(dir.path().join(CURRENT), "20261123-1200-ab12\n").unwrap();
        assert_eq!(current_version(dir.path()).unwrap(), "20261123-1200-ab12");
    }

    #[test]
    fn library_versions_are_recorded() {
        let libs = library_versions();
        assert!(libs.contains_key("linfa"), "{libs:?}");
    }
}
