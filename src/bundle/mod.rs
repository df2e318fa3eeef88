//! The model bundle: `models/<version>/` holds `manifest.json` (schema, metrics, sha256 of
//! every file, library versions, training data hash) and one JSON file per model.
//! A bundle is written to a temporary folder beside its final place, synced, renamed,
//! and only then published by replacing `models/CURRENT` atomically. Loading verifies
//! the format version, every checksum and the schema, and refuses anything else.

mod check;
mod finite;

use crate::config::Label;
use crate::data::{ColumnKind, DataQuality};
use crate::features::{Encoding, FeatureEncoder};
use crate::models::classifier::{RetentionMetrics, RetentionModel};
use crate::models::rules::{CrossSellModel, HitRate};
use crate::models::segment::{SegmentModel, ValuePyramid};
use crate::models::targets::{is_target_name, target_file, TargetMetrics, TargetModel, TargetSpec};
use crate::models::tree::ReadableTree;
use crate::monitoring::DriftReference;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bumped whenever a change makes older readers misread a bundle. Format 2 added
/// targets besides the attrition one (`target.<name>.json`).
pub const FORMAT_VERSION: u32 = 2;
/// The oldest format this custscore still reads.
pub const OLDEST_FORMAT_VERSION: u32 = 1;
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
const LIFETIME: &str = "lifetime.json";
const RFM: &str = "rfm.json";
const HISTORY: &str = "history.json";
pub(crate) const UPLIFT: &str = "uplift.json";
const ACTIONS: &str = crate::decisions::actions::BUNDLE_FILE;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{}: no model bundle here (no {CURRENT} file); run `custscore train` first", dir.display())]
    NoBundle { dir: PathBuf },
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: corrupted bundle: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("{}: bundle format {found} is not supported (this custscore reads formats {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION}); retrain with this version", path.display())]
    Incompatible { path: PathBuf, found: u32 },
    #[error("{version:?} is not a bundle version name: use letters, digits, '-', '_' and '.', not starting with '.'")]
    InvalidVersion { version: String },
    #[error("{}: could not write the bundle: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
    #[error("{file}: refusing to save field `{field}` = {value}: JSON has no such number (it would be read back as null); this is a bug in training, please report it")]
    NonFinite {
        file: String,
        field: String,
        value: f64,
    },
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
    /// The customers in the table when training ran on a sample of them (`--sample`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled_from: Option<usize>,
    /// The campaign, outcome and arm the table was built from (`train --from-campaign`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<crate::outcomes::training::CampaignSource>,
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
    /// Every target when there are several (or a target has excluded inputs); the
    /// attrition one's model is retention.json, each other's `target.<name>.json`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetSpec>,
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
            targets: Vec::new(),
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
    /// The other targets' cross-validated scores and leak check, by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub targets: BTreeMap<String, TargetMetrics>,
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
    /// Targets other than the attrition one, in the order of `manifest.schema.targets`.
    pub targets: Vec<TargetModel>,
    /// The training profile drift is measured against (absent in older bundles).
    pub drift: Option<DriftReference>,
    /// BG/NBD and Gamma-Gamma (bundles trained from an order log; absent in older ones).
    pub lifetime: Option<crate::models::lifetime::LifetimeModel>,
    /// RFM quintile edges and rhythm figures (order-log bundles; absent in older ones).
    pub rfm: Option<crate::models::rfm::RfmModel>,
    /// Each customer's items for cross-sell from purchase history (order-log bundles with
    /// items; absent in older ones).
    pub history: Option<crate::models::offers::PurchaseHistory>,
    /// Treatment-minus-control response model with its held-out Qini curve (bundles
    /// trained with `--from-campaign --uplift`).
    pub uplift: Option<crate::models::uplift::UpliftModel>,
    /// The actions next best action and target lists use when no actions file is given
    /// (bundles trained with `train --actions` or `[[actions]]` in the config).
    pub actions: Option<crate::decisions::ActionSet>,
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
    finite::check(value).map_err(|e| match e {
        finite::Unwritable::NonFinite { field, value } => BundleError::NonFinite {
            file: name.to_string(),
            field,
            value,
        },
        finite::Unwritable::Other(reason) => BundleError::Write {
            path: PathBuf::from(name),
            reason,
        },
    })?;
    serde_json::to_vec_pretty(value).map_err(|e| BundleError::Write {
        path: PathBuf::from(name),
        reason: e.to_string(),
    })
}

impl Bundle {
    /// The model files other than the manifest, serialized.
    fn model_files(&self) -> Result<Vec<(String, Vec<u8>)>, BundleError> {
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
        if let Some(lifetime) = &self.lifetime {
            files.push((LIFETIME, to_json(lifetime, LIFETIME)?));
        }
        if let Some(rfm) = &self.rfm {
            files.push((RFM, to_json(rfm, RFM)?));
        }
        if let Some(uplift) = &self.uplift {
            files.push((UPLIFT, to_json(uplift, UPLIFT)?));
        }
        if let Some(history) = &self.history {
            files.push((HISTORY, to_json(history, HISTORY)?));
        }
        if let Some(actions) = &self.actions {
            files.push((ACTIONS, to_json(actions, ACTIONS)?));
        }
        let mut files: Vec<(String, Vec<u8>)> =
            files.into_iter().map(|(n, b)| (n.to_string(), b)).collect();
        for target in &self.targets {
            let name = target_file(&target.name);
            let bytes = to_json(target, &name)?;
            files.push((name, bytes));
        }
        Ok(files)
    }

    /// Write the bundle under `models_dir/<version>/` and make it CURRENT. The version in
    /// the manifest is made unique within the folder; the final one is returned.
    pub fn save(&mut self, models_dir: &Path) -> Result<PathBuf, BundleError> {
        let final_dir = self.save_version(models_dir)?;
        publish_current(models_dir, &self.manifest.version)?;
        Ok(final_dir)
    }

    /// Write the bundle under `models_dir/<version>/`, verified, without making it
    /// CURRENT (the lifecycle gate decides that). Returns the bundle's folder.
    pub fn save_version(&mut self, models_dir: &Path) -> Result<PathBuf, BundleError> {
        let base = self.manifest.version.clone();
        check_version_name(&base)?;
        fs::create_dir_all(models_dir).map_err(io_error(models_dir))?;
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
            .map(|(n, b)| (n.as_str(), b))
            .chain([(MANIFEST, &manifest)])
        {
            write_synced(&staging.path().join(name), bytes)?;
        }
        sync_dir(staging.path())?;
        // Read back exactly what was written, with every check a reader makes: a bundle
        // that would not load is never published (the staging folder is removed on error).
        Bundle::load_dir(staging.path(), &version)?;
        let final_dir = models_dir.join(&version);
        let staged = staging.keep();
        fs::rename(&staged, &final_dir).map_err(io_error(&final_dir))?;
        sync_dir(models_dir)?;
        Ok(final_dir)
    }

    /// Load the version named, or the one `CURRENT` points to, and verify it.
    pub fn load(models_dir: &Path, version: Option<&str>) -> Result<Bundle, BundleError> {
        let version = match version {
            Some(v) => {
                check_version_name(v)?;
                v.to_string()
            }
            None => current_version(models_dir)?,
        };
        Bundle::load_dir(&models_dir.join(&version), &version)
    }

    /// Load and verify the bundle in `dir`, whose manifest must name `version`.
    fn load_dir(dir: &Path, version: &str) -> Result<Bundle, BundleError> {
        let manifest_path = dir.join(MANIFEST);
        let manifest_bytes = fs::read(&manifest_path).map_err(io_error(&manifest_path))?;
        let format: FormatProbe = parse_json(&manifest_path, &manifest_bytes)?;
        if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&format.format_version) {
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
        let read = |name: &str| read_verified(dir, name, &manifest);
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
            lifetime: match manifest.files.contains_key(LIFETIME) {
                true => Some(parse_json(&dir.join(LIFETIME), &read(LIFETIME)?)?),
                false => None,
            },
            rfm: match manifest.files.contains_key(RFM) {
                true => Some(parse_json(&dir.join(RFM), &read(RFM)?)?),
                false => None,
            },
            targets: (manifest.schema.targets.iter())
                .filter(|t| !t.attrition)
                .map(|t| {
                    if !is_target_name(&t.name) {
                        let why =
                            format!("target name {:?} is not letters, digits and '_'", t.name);
                        return Err(corrupt(&manifest_path, why));
                    }
                    let name = target_file(&t.name);
                    parse_json(&dir.join(&name), &read(&name)?)
                })
                .collect::<Result<_, _>>()?,
            history: match manifest.files.contains_key(HISTORY) {
                true => Some(parse_json(&dir.join(HISTORY), &read(HISTORY)?)?),
                false => None,
            },
            uplift: match manifest.files.contains_key(UPLIFT) {
                true => Some(parse_json(&dir.join(UPLIFT), &read(UPLIFT)?)?),
                false => None,
            },
            actions: match manifest.files.contains_key(ACTIONS) {
                true => Some(parse_json(&dir.join(ACTIONS), &read(ACTIONS)?)?),
                false => None,
            },
            manifest,
        };
        check::check(&bundle, dir)?;
        Ok(bundle)
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
    if !is_version_name(version) {
        return Err(corrupt(
            &path,
            format!("{version:?} is not a bundle version"),
        ));
    }
    Ok(version.to_string())
}

/// A bundle version is one plain folder name: letters, digits, `-`, `_` and `.`, not
/// empty and not starting with `.` (so never `..`, a path, or a hidden staging folder).
pub fn is_version_name(version: &str) -> bool {
    !version.is_empty()
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !version.starts_with('.')
}

/// [`is_version_name`] as an error naming the version.
pub fn check_version_name(version: &str) -> Result<(), BundleError> {
    match is_version_name(version) {
        true => Ok(()),
        false => Err(BundleError::InvalidVersion {
            version: version.to_string(),
        }),
    }
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
/// Callers verify the version first (`Bundle::load`); this only moves the pointer.
pub fn publish_current(models_dir: &Path, version: &str) -> Result<(), BundleError> {
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

    /// A small bundle (no label, fixed k) trained in-process from the telco fixture.
    fn small_bundle() -> Bundle {
        let mut config = crate::config::TrainConfig::default();
        config.data.customers =
            Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/telco_400.csv"));
        config.data.id = Some("customer_id".into());
        config.data.value = Some("total_charges".into());
        config.segments.k = Some(3);
        crate::train::train(&config, &crate::progress::Progress::silent()).unwrap()
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_nan_is_refused_at_save_with_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let mut bundle = small_bundle();
        bundle.segments.profiles[1].share = f64::NAN;
        let err = bundle.save(dir.path()).unwrap_err();
        assert!(
            matches!(&err, BundleError::NonFinite { file, field, .. }
                if file == SEGMENTS && field == "profiles[1].share"),
            "{err}"
        );
        assert!(err.to_string().contains("segments.json"), "{err}");
        assert!(entries(dir.path()).iter().all(|e| e != CURRENT));
    }

    #[test]
    fn a_bundle_that_would_not_load_never_becomes_current() {
        let dir = tempfile::tempdir().unwrap();
        let mut bundle = small_bundle();
        let first = bundle.save(dir.path()).unwrap();
        let first_version = current_version(dir.path()).unwrap();
        let before = entries(dir.path());
        // Finite and well-typed, but a tier list that cannot place anyone.
        bundle.pyramid.as_mut().unwrap().tiers.clear();
        let err = bundle.save(dir.path()).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("pyramid.json") && message.contains("tiers"),
            "{message}"
        );
        assert_eq!(current_version(dir.path()).unwrap(), first_version);
        assert_eq!(entries(dir.path()), before, "nothing left behind");
        assert!(Bundle::load(dir.path(), None).is_ok());
        assert!(first.ends_with(&first_version));
    }

    #[test]
    fn version_names_are_plain_folder_names() {
        for bad in ["", "..", "../x", "a/b", "a\\b", ".staging", "/abs", "v 1"] {
            assert!(!is_version_name(bad), "{bad:?}");
            let dir = tempfile::tempdir().unwrap();
            assert!(
                matches!(
                    Bundle::load(dir.path(), Some(bad)),
                    Err(BundleError::InvalidVersion { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(is_version_name("20261123-1200-ab12"));
        let dir = tempfile::tempdir().unwrap();
        let mut bundle = small_bundle();
        bundle.manifest.version = "../outside".into();
        assert!(matches!(
            bundle.save(&dir.path().join("models")),
            Err(BundleError::InvalidVersion { .. })
        ));
        assert!(!dir.path().join("outside").exists());
    }

    #[test]
    fn only_libraries_that_fit_a_model_are_recorded() {
        let libs = library_versions();
        let names: Vec<&str> = libs.keys().map(String::as_str).collect();
        // Every model is fitted by custscore's own code (linfa is a peer in examples/).
        assert!(names.is_empty(), "{libs:?}");
    }
}
