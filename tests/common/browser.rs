//! Headless Chromium with every request sent to a recording proxy, for pages that must
//! render without console errors and fetch nothing.
//!
//! A missing browser fails the test. Set `CUSTSCORE_SKIP_BROWSER=1` to skip it on
//! purpose (it then says so on stderr).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .map(|name| Path::new("/usr/bin").join(name))
        .find(|p| p.exists())
}

/// The browser to test with; `None` only when the user asked to skip.
fn browser_or_skip() -> Option<PathBuf> {
    if std::env::var("CUSTSCORE_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!("SKIPPED on request (CUSTSCORE_SKIP_BROWSER=1)");
        return None;
    }
    match chromium() {
        Some(browser) => Some(browser),
        None => panic!(
            "no chromium at /usr/bin: install Debian's chromium (.ci/run does), \
             or set CUSTSCORE_SKIP_BROWSER=1 to skip this test"
        ),
    }
}

/// One test's browser: its recording proxy, a temporary folder for pages and profiles,
/// and the hosts the browser contacts by itself (learned from an empty page).
pub struct Browser {
    path: PathBuf,
    proxy: RecordingProxy,
    dir: tempfile::TempDir,
    own_hosts: Vec<String>,
    profiles: std::cell::Cell<usize>,
}

impl Browser {
    /// The browser, ready to open pages; `None` only when the user asked to skip.
    pub fn start() -> Option<Browser> {
        let mut browser = Browser {
            path: browser_or_skip()?,
            proxy: RecordingProxy::start(),
            dir: tempfile::tempdir().unwrap(),
            own_hosts: Vec::new(),
            profiles: std::cell::Cell::new(0),
        };
        // Headless Chromium still contacts a few of its vendor's hosts at start-up
        // whatever the page (seen: accounts.google.com, www.google.com).
        let empty = super::write(browser.dir(), "empty.html", b"<html><body></body></html>");
        browser.open(&empty);
        browser.own_hosts = browser
            .proxy
            .take()
            .iter()
            .filter_map(|l| host(l))
            .collect();
        Some(browser)
    }

    /// A temporary folder that lives as long as the browser.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Open `page` in a fresh profile: (DOM after scripts ran, console lines).
    pub fn open(&self, page: &Path) -> (String, Vec<String>) {
        self.proxy.take();
        open_in_browser(&self.path, page, &self.profile(), &self.proxy, None)
    }

    /// Open `page`, check it wrote nothing to the console and fetched nothing; its DOM.
    pub fn open_clean(&self, page: &Path) -> String {
        let (dom, console) = self.open(page);
        assert!(console.is_empty(), "console messages: {console:?}");
        let fetched = self.fetched();
        assert!(fetched.is_empty(), "the page fetched: {fetched:?}");
        dom
    }

    /// What the page opened last asked the network for, less the browser's own requests.
    pub fn fetched(&self) -> Vec<String> {
        self.proxy
            .take()
            .into_iter()
            .filter(|line| host(line).is_none_or(|h| !self.own_hosts.contains(&h)))
            .collect()
    }

    /// Save a screenshot of `page` as `target/report-screenshots/NAME` for a person to
    /// look at, and check it was written.
    pub fn screenshot(&self, page: &Path, name: &str) {
        let shots = super::repo().join("target/report-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        let png = shots.join(name);
        let _ = std::fs::remove_file(&png);
        open_in_browser(&self.path, page, &self.profile(), &self.proxy, Some(&png));
        assert!(
            std::fs::metadata(&png).is_ok_and(|m| m.len() > 10_000),
            "screenshot saved"
        );
    }

    fn profile(&self) -> PathBuf {
        let n = self.profiles.get();
        self.profiles.set(n + 1);
        self.dir().join(format!("profile-{n}"))
    }
}

/// A stand-in HTTP proxy on loopback that records the first line of every request the
/// browser sends through it (`GET http://host/path HTTP/1.1`, `CONNECT host:443 …`) and
/// answers nothing. Chromium sends every http, https and ws request to it, so an
/// empty list means the page fetched nothing.
struct RecordingProxy {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl RecordingProxy {
    fn start() -> RecordingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut line = String::new();
                let _ = BufReader::new(&stream).read_line(&mut line);
                seen.lock().unwrap().push(line.trim_end().to_string());
            }
        });
        RecordingProxy { port, requests }
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

/// The host a proxy request line names: `GET http://host/path …` or `CONNECT host:443 …`.
fn host(line: &str) -> Option<String> {
    let target = line.split_whitespace().nth(1)?;
    let rest = target.split_once("://").map_or(target, |(_, r)| r);
    let authority = rest.split('/').next()?;
    Some(
        authority
            .rsplit_once(':')
            .map_or(authority, |(h, _)| h)
            .to_string(),
    )
}

/// Run headless Chromium on a file with all traffic sent to `proxy`; returns (DOM after
/// scripts ran, console lines).
fn open_in_browser(
    browser: &Path,
    page: &Path,
    profile: &Path,
    proxy: &RecordingProxy,
    screenshot: Option<&Path>,
) -> (String, Vec<String>) {
    let mut cmd = Command::new(browser);
    cmd.arg(format!("--proxy-server=http://127.0.0.1:{}", proxy.port));
    // Loopback and local names go through the proxy too (Chromium bypasses them by default).
    cmd.arg("--proxy-bypass-list=<-loopback>");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
        "--disable-client-side-phishing-detection",
        "--disable-domain-reliability",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-field-trial-config",
        "--no-pings",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,4000",
    ]);
    cmd.arg(format!("--user-data-dir={}", profile.display()));
    match screenshot {
        Some(png) => cmd.arg(format!("--screenshot={}", png.display())),
        None => cmd.arg("--dump-dom"),
    };
    let out = cmd
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}
