//! API keys with scopes, kept as sha256 digests. A keys file holds one key per line:
//!
//! ```text
//! # id:scopes:sha256 of the key (written by `custscore keys create`)
//! crm-nightly:score,read:5f2b…(64 hex digits)
//! ops:admin:9c0e…
//! a-plain-key-from-before
//! ```
//!
//! A line that is not `id:scope,scope:<64 hex>` is a plain key from before scopes
//! existed: it keeps working with scopes `score` and `read`, and its id is `line<N>`.
//! Blank lines and lines starting with `#` are skipped.

use sha2::{Digest as _, Sha256};
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

/// What a key may do. Every route needs exactly one scope (see `serve::access::scopes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Score customers (`/v1/score`, `/v1/score/batch`).
    Score,
    /// Read models, segments, rules, monitoring and campaign reports.
    Read,
    /// Store outcome events (`POST /v1/outcomes`).
    OutcomesWrite,
    /// Reload, promote and roll back bundles.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::Score,
        Scope::Read,
        Scope::OutcomesWrite,
        Scope::Admin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scope::Score => "score",
            Scope::Read => "read",
            Scope::OutcomesWrite => "outcomes:write",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.name() == text)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u8);

impl Scopes {
    pub fn of(scopes: &[Scope]) -> Self {
        Scopes(scopes.iter().fold(0, |bits, s| bits | s.bit()))
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// `score,read` and the like; an unknown name is an error naming it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut scopes = Vec::new();
        for name in text.split(',').map(str::trim) {
            let scope = Scope::parse(name).ok_or_else(|| {
                let known: Vec<_> = Scope::ALL.iter().map(|s| s.name()).collect();
                format!("unknown scope {name:?} (known: {})", known.join(", "))
            })?;
            scopes.push(scope);
        }
        Ok(Scopes::of(&scopes))
    }

    pub fn names(self) -> Vec<&'static str> {
        Scope::ALL
            .into_iter()
            .filter(|s| self.contains(*s))
            .map(Scope::name)
            .collect()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

/// A secret kept only as its sha256: comparing digests of equal length in constant time
/// says nothing about a guess's length or where it first differs, and a memory dump or a
/// log line never shows the secret itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Digest([u8; 32]);

impl Digest {
    pub fn of(secret: &str) -> Self {
        let mut out = [0u8; 32];
        out.copy_from_slice(&Sha256::digest(secret.as_bytes()));
        Digest(out)
    }

    fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks(2)) {
            let text = std::str::from_utf8(pair).ok()?;
            *byte = u8::from_str_radix(text, 16).ok()?;
        }
        Some(Digest(out))
    }

    fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Constant time: the words' differences are ORed together without a branch and only
    /// the total is compared (one `ct_eq`, not one optimisation barrier per byte).
    fn matches(&self, other: &Digest) -> Choice {
        let word = |d: &Digest, i: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&d.0[i * 8..i * 8 + 8]);
            u64::from_ne_bytes(bytes)
        };
        let difference = (0..4).fold(0u64, |acc, i| acc | (word(self, i) ^ word(other, i)));
        difference.ct_eq(&0)
    }
}

/// One key: its id (what logs and the audit trail show), scopes and digest.
#[derive(Clone)]
pub struct Key {
    /// Shared with every request it grants (no copy per request).
    pub id: Arc<str>,
    pub scopes: Scopes,
    digest: Digest,
}

impl Key {
    pub fn new(id: impl Into<Arc<str>>, scopes: Scopes, secret: &str) -> Self {
        Key {
            id: id.into(),
            scopes,
            digest: Digest::of(secret),
        }
    }
}

/// Ids, scopes and digest count only: keys reach logs through `Debug` of the state.
impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({}: {})", self.id, self.scopes)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("{}: cannot read", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot write", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: line {line}: {reason}", path.display())]
    Line {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{}: holds no key (one per line; # starts a comment)", path.display())]
    Empty { path: PathBuf },
    #[error("{}: line {line} already has the id {id:?}", path.display())]
    DuplicateId {
        path: PathBuf,
        line: usize,
        id: String,
    },
    #[error("{}: no key has the id {id:?} (ids: {known})", path.display())]
    UnknownId {
        path: PathBuf,
        id: String,
        known: String,
    },
    #[error("{}: {id:?} is the only key; create its replacement first", path.display())]
    LastKey { path: PathBuf, id: String },
    #[error("key id {0:?}: use 1 to 64 letters, digits, `-`, `_` or `.`")]
    BadId(String),
    #[error("--scopes: {0}")]
    BadScopes(String),
    #[error("cannot draw random bytes from the operating system: {0}")]
    Random(String),
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `id:scope,scope:<64 hex>` → (id, scopes text, digest); anything else is a plain key.
fn split_scoped(line: &str) -> Option<(&str, &str, Digest)> {
    let (rest, hex) = line.rsplit_once(':')?;
    let (id, scopes) = rest.split_once(':')?;
    let digest = Digest::from_hex(hex)?;
    valid_id(id).then_some((id, scopes, digest))
}

/// One key line of a keys file, for `keys list` and `keys revoke`.
#[derive(Debug, Clone)]
pub struct KeyLine {
    /// 1-based line number in the file.
    pub line: usize,
    pub key: Key,
    /// When `keys create` wrote it (UTC, RFC 3339); none for older and plain lines.
    pub created: Option<String>,
}

/// `…:created=<time>` at the end of a scoped line → (line without it, time).
fn split_created(line: &str) -> (&str, Option<&str>) {
    match line.rsplit_once(CREATED) {
        Some((body, time)) if split_scoped(body).is_some() => (body, Some(time)),
        _ => (line, None),
    }
}

const CREATED: &str = ":created=";

fn read_text(path: &Path) -> Result<String, KeysError> {
    std::fs::read_to_string(path).map_err(|source| KeysError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Every key line of `text` (read from `path`), checked: scopes known, ids unique.
fn parse_lines(path: &Path, text: &str) -> Result<Vec<KeyLine>, KeysError> {
    let mut lines: Vec<KeyLine> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (body, created) = split_created(trimmed);
        let key = match split_scoped(body) {
            Some((id, scopes, digest)) => Key {
                id: id.into(),
                scopes: Scopes::parse(scopes).map_err(|reason| KeysError::Line {
                    path: path.to_path_buf(),
                    line,
                    reason,
                })?,
                digest,
            },
            None => Key::new(
                format!("line{line}"),
                Scopes::of(&[Scope::Score, Scope::Read]),
                trimmed,
            ),
        };
        if lines.iter().any(|k| k.key.id == key.id) {
            return Err(KeysError::DuplicateId {
                path: path.to_path_buf(),
                line,
                id: key.id.to_string(),
            });
        }
        lines.push(KeyLine {
            line,
            key,
            created: created.map(String::from),
        });
    }
    if lines.is_empty() {
        return Err(KeysError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(lines)
}

/// The key lines of a keys file, with their line numbers and creation times.
pub fn list_keys(path: &Path) -> Result<Vec<KeyLine>, KeysError> {
    parse_lines(path, &read_text(path)?)
}

/// Read a keys file: scoped lines and plain keys (scopes `score` and `read`).
pub fn read_keys(path: &Path) -> Result<Vec<Key>, KeysError> {
    Ok(list_keys(path)?.into_iter().map(|l| l.key).collect())
}

/// The keys a server accepts, looked up in constant time.
#[derive(Clone, Default, Debug)]
pub struct KeyRing {
    keys: Vec<Key>,
    /// Tells rings apart in the workers' memory of the last key found (a reloaded ring
    /// is a new one, so a revoked key is never found from memory).
    generation: u64,
}

/// The last key a worker thread found, so that a client sending the same key again is
/// not hashed again. Kept zero-padded to a fixed length and compared whole, in constant
/// time, so the time taken depends on neither the remembered key nor where a guess differs.
struct Remembered {
    ring: u64,
    given: [u8; REMEMBERED_MAX],
    len: usize,
    index: usize,
}

/// Longer keys are always hashed (`csk_` keys are 68 bytes).
const REMEMBERED_MAX: usize = 128;

thread_local! {
    static LAST_FOUND: std::cell::RefCell<Option<Remembered>> = const { std::cell::RefCell::new(None) };
}

fn padded(given: &str) -> Option<[u8; REMEMBERED_MAX]> {
    let mut out = [0u8; REMEMBERED_MAX];
    out.get_mut(..given.len())?
        .copy_from_slice(given.as_bytes());
    Some(out)
}

/// Constant time, a word at a time: the differences are ORed and only the total compared.
fn same_words(a: &[u8; REMEMBERED_MAX], b: &[u8; REMEMBERED_MAX]) -> Choice {
    let difference = a
        .chunks_exact(8)
        .zip(b.chunks_exact(8))
        .fold(0u64, |acc, (x, y)| {
            let word = |w: &[u8]| u64::from_ne_bytes(w.try_into().unwrap_or_default());
            acc | (word(x) ^ word(y))
        });
    difference.ct_eq(&0)
}

impl KeyRing {
    pub fn new(keys: Vec<Key>) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let generation = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        KeyRing { keys, generation }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<&Key> {
        self.keys.get(index)
    }

    /// The index of the key with this id.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.keys.iter().position(|k| &*k.id == id)
    }

    /// Whether any key holds `scope`.
    pub fn grants(&self, scope: Scope) -> bool {
        self.keys.iter().any(|k| k.scopes.contains(scope))
    }

    /// The index of the key `given` is: the key this worker found last if `given` is the
    /// same (compared in constant time), else [`KeyRing::find_hashed`].
    pub fn find(&self, given: &str) -> Option<usize> {
        let Some(padded) = padded(given) else {
            return self.find_hashed(given);
        };
        let remembered = LAST_FOUND.with_borrow(|last| {
            let last = last.as_ref().filter(|l| l.ring == self.generation)?;
            let same = same_words(&last.given, &padded) & last.len.ct_eq(&given.len());
            bool::from(same).then_some(last.index)
        });
        if remembered.is_some() {
            return remembered;
        }
        let index = self.find_hashed(given)?;
        LAST_FOUND.set(Some(Remembered {
            ring: self.generation,
            given: padded,
            len: given.len(),
            index,
        }));
        Some(index)
    }

    /// Every key is compared and the index is selected without a branch, so the time
    /// taken does not tell which key matched, or whether one did.
    pub fn find_hashed(&self, given: &str) -> Option<usize> {
        let given = Digest::of(given);
        let mut found = Choice::from(0);
        let mut index = 0u32;
        for (i, key) in self.keys.iter().enumerate() {
            let same = key.digest.matches(&given);
            index.conditional_assign(&(i as u32), same);
            found |= same;
        }
        bool::from(found).then_some(index as usize)
    }
}

/// A new key: 32 random bytes from the operating system, as 64 hex digits after `csk_`.
pub fn new_secret() -> Result<String, KeysError> {
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| KeysError::Random(e.to_string()))?;
    Ok(format!("csk_{}", Digest(bytes).hex()))
}

/// Create a key with `id` and `scopes`, append its line to `path` (made if absent, readable
/// by its owner only) and return the secret, which is not stored anywhere.
pub fn create_key(path: &Path, id: &str, scopes: &str) -> Result<String, KeysError> {
    if !valid_id(id) {
        return Err(KeysError::BadId(id.to_string()));
    }
    let scopes = Scopes::parse(scopes).map_err(KeysError::BadScopes)?;
    if path.exists() {
        let text = read_text(path)?;
        if let Some(line) = text.lines().position(|l| {
            split_scoped(split_created(l.trim()).0).is_some_and(|(other, _, _)| other == id)
        }) {
            return Err(KeysError::DuplicateId {
                path: path.to_path_buf(),
                line: line + 1,
                id: id.to_string(),
            });
        }
    }
    let secret = new_secret()?;
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let line = format!(
        "{id}:{scopes}:{}{CREATED}{created}\n",
        Digest::of(&secret).hex()
    );
    append_private(path, line.as_bytes()).map_err(|source| KeysError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(secret)
}

/// Remove the key `id` from `path`: the file is rewritten next to itself and renamed over
/// the old one, keeping its permissions, so a reader sees either file whole. The last key
/// is not removed: a server reloading an empty file would keep its old keys.
pub fn revoke_key(path: &Path, id: &str) -> Result<KeyLine, KeysError> {
    let text = read_text(path)?;
    let lines = parse_lines(path, &text)?;
    let Some(revoked) = lines.iter().find(|l| &*l.key.id == id).cloned() else {
        let ids: Vec<&str> = lines.iter().map(|l| &*l.key.id).collect();
        return Err(KeysError::UnknownId {
            path: path.to_path_buf(),
            id: id.to_string(),
            known: ids.join(", "),
        });
    };
    if lines.len() == 1 {
        return Err(KeysError::LastKey {
            path: path.to_path_buf(),
            id: id.to_string(),
        });
    }
    let kept: String = text
        .lines()
        .enumerate()
        .filter(|(index, _)| index + 1 != revoked.line)
        .map(|(_, line)| format!("{line}\n"))
        .collect();
    replace_private(path, kept.as_bytes()).map_err(|source| KeysError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(revoked)
}

/// Write `bytes` to a temporary file in `path`'s folder (same filesystem, so the rename
/// is atomic) with `path`'s permissions (owner-only if it had none), fsync, rename over
/// `path`, fsync the folder.
fn replace_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let temp = folder.join(format!(
        ".{}.{}.tmp",
        name.unwrap_or_default(),
        std::process::id()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = (|| {
        let mut file = options.open(&temp)?;
        file.set_permissions(std::fs::metadata(path)?.permissions())?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        std::fs::File::open(folder)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

fn append_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    // A file ending without a newline would glue this line to its last one.
    let ends_open = std::fs::read(path)?.last().is_some_and(|&b| b != b'\n');
    if ends_open {
        file.write_all(b"\n")?;
    }
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ring(lines: &str) -> (tempfile::TempDir, KeyRing) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, lines).unwrap();
        let keys = read_keys(&path).unwrap();
        (dir, KeyRing::new(keys))
    }

    #[test]
    fn a_remembered_key_is_found_again_only_in_its_own_ring() {
        let key = |id: &str, secret: &str| Key::new(id, Scopes::of(&[Scope::Score]), secret);
        let first = KeyRing::new(vec![key("a", "secret-a"), key("b", "secret-b")]);
        assert_eq!(first.find("secret-b"), Some(1));
        // Found from memory now; other keys, prefixes and longer guesses are not.
        assert_eq!(first.find("secret-b"), Some(1));
        assert_eq!(first.find("secret-a"), Some(0));
        assert_eq!(first.find("secret-a"), Some(0));
        for wrong in ["secret-", "secret-a\0", "secret-ab", ""] {
            assert_eq!(first.find(wrong), None, "{wrong:?}");
        }
        // A reloaded ring without the key (or with it elsewhere) is not fooled by memory.
        let revoked = KeyRing::new(vec![key("b", "secret-b")]);
        assert_eq!(revoked.find("secret-a"), None);
        assert_eq!(revoked.find("secret-b"), Some(0));
        // Keys longer than what is remembered are hashed every time.
        let long = "k".repeat(REMEMBERED_MAX + 1);
        let ring = KeyRing::new(vec![key("long", &long)]);
        assert_eq!(ring.find(&long), Some(0));
        assert_eq!(ring.find(&long), Some(0));
        assert_eq!(ring.find(&long[..REMEMBERED_MAX]), None);
    }

    #[test]
    fn digests_differing_in_any_one_bit_do_not_match() {
        let digest = Digest::of("csk_secret");
        assert!(bool::from(digest.matches(&digest.clone())));
        for byte in 0..32 {
            for bit in 0..8 {
                let mut other = digest.clone();
                other.0[byte] ^= 1 << bit;
                assert!(!bool::from(digest.matches(&other)), "byte {byte} bit {bit}");
            }
        }
    }

    #[test]
    fn plain_lines_mean_score_and_read_and_scoped_lines_carry_their_scopes() {
        let ops = Digest::of("ops-secret").hex();
        let (_dir, ring) = ring(&format!(
            "# clients\nplain-one\n\nops:admin,outcomes:write:{ops}\n"
        ));
        let plain = ring.get(ring.find("plain-one").unwrap()).unwrap();
        assert_eq!(&*plain.id, "line2");
        assert_eq!(plain.scopes.names(), ["score", "read"]);
        let ops = ring.get(ring.find("ops-secret").unwrap()).unwrap();
        assert_eq!(&*ops.id, "ops");
        assert_eq!(ops.scopes.names(), ["outcomes:write", "admin"]);
        assert!(ring.find("ops").is_none());
        assert!(ring.find(&Digest::of("ops-secret").hex()).is_none());
        assert!(ring.grants(Scope::Admin) && !Scopes::default().contains(Scope::Read));
    }

    #[test]
    fn a_scoped_line_with_an_unknown_scope_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let hex = Digest::of("x").hex();
        std::fs::write(&path, format!("a\nbad:score,write:{hex}\n")).unwrap();
        let e = read_keys(&path).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("\"write\""), "{e}");
        std::fs::write(&path, "# nothing\n").unwrap();
        assert!(matches!(read_keys(&path), Err(KeysError::Empty { .. })));
    }

    #[test]
    fn created_keys_are_found_by_their_secret_only_and_ids_stay_unique() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, "old-plain-key").unwrap();
        let secret = create_key(&path, "crm", "score,read").unwrap();
        assert!(secret.starts_with("csk_") && secret.len() == 68, "{secret}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&secret), "the file holds the hash only");
        assert!(text.starts_with("old-plain-key\ncrm:score,read:"), "{text}");
        let ring = KeyRing::new(read_keys(&path).unwrap());
        assert_eq!(&*ring.get(ring.find(&secret).unwrap()).unwrap().id, "crm");
        assert!(ring.find("old-plain-key").is_some());
        let again = create_key(&path, "crm", "read").unwrap_err();
        assert!(
            matches!(again, KeysError::DuplicateId { line: 2, .. }),
            "{again}"
        );
        assert!(matches!(
            create_key(&path, "a:b", "read"),
            Err(KeysError::BadId(_))
        ));
        assert!(matches!(
            create_key(&path, "x", "score,everything"),
            Err(KeysError::BadScopes(_))
        ));
        assert_ne!(create_key(&path, "other", "admin").unwrap(), secret);
    }

    #[test]
    fn keys_are_listed_with_creation_times_and_revoked_by_id_keeping_permissions() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, "# clients\nold-plain-key\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let crm = create_key(&path, "crm", "score").unwrap();
        let ops = create_key(&path, "ops", "admin").unwrap();
        let listed = list_keys(&path).unwrap();
        let ids: Vec<_> = listed.iter().map(|l| (&*l.key.id, l.line)).collect();
        assert_eq!(ids, [("line2", 2), ("crm", 3), ("ops", 4)]);
        assert!(listed[0].created.is_none());
        let created = listed[1].created.as_deref().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(created).is_ok(),
            "{created}"
        );

        let revoked = revoke_key(&path, "crm").unwrap();
        assert_eq!((&*revoked.key.id, revoked.line), ("crm", 3));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# clients\nold-plain-key\nops:admin:"),
            "{text}"
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let ring = KeyRing::new(read_keys(&path).unwrap());
        assert!(ring.find(&crm).is_none() && ring.find(&ops).is_some());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );

        let unknown = revoke_key(&path, "crm").unwrap_err().to_string();
        assert!(
            unknown.contains("\"crm\"") && unknown.contains("line2, ops"),
            "{unknown}"
        );
        revoke_key(&path, "line2").unwrap();
        let last = revoke_key(&path, "ops").unwrap_err();
        assert!(matches!(last, KeysError::LastKey { .. }), "{last}");
        assert_eq!(read_keys(&path).unwrap().len(), 1);
    }

    #[test]
    fn keys_never_show_in_debug_output() {
        let ring = KeyRing::new(vec![Key::new("crm", Scopes::of(&[Scope::Score]), "sk-9")]);
        let shown = format!("{ring:?} {ring:#?}");
        assert!(!shown.contains("sk-9") && shown.contains("crm"), "{shown}");
    }

    proptest! {
        /// Whatever a line holds, reading it never panics, and a scoped line written by
        /// `create_key` reads back with the same id and scopes.
        #[test]
        fn any_line_reads_without_panic(line in "[ -~]{0,120}") {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("keys");
            std::fs::write(&path, &line).unwrap();
            let _ = read_keys(&path);
        }

        #[test]
        fn scopes_round_trip(bits in 1u8..16) {
            let scopes = Scopes(bits);
            prop_assert_eq!(Scopes::parse(&scopes.to_string()).unwrap(), scopes);
        }
    }
}
