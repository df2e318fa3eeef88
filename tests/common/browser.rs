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

/// Hosts Chromium contacts for itself (sign-in, updates, hints). No report asset lives
/// there, and a fetch from any other host is still caught.
const BROWSER_OWN_HOSTS: [&str; 6] = [
    "accounts.google.com",
    "www.google.com",
    "clients2.google.com",
    "update.googleapis.com",
    "optimizationguide-pa.googleapis.com",
    "content-autofill.googleapis.com",
];

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
        // whatever the page (seen: accounts.google.com, www.google.com), not on every
        // start: the ones seen so far, and whatever an empty page asks for here.
        let empty = super::write(browser.dir(), "empty.html", b"<html><body></body></html>");
        browser.open(&empty);
        browser.own_hosts = (browser.proxy.take().iter())
            .filter_map(|l| host(l))
            .chain(BROWSER_OWN_HOSTS.iter().map(|h| h.to_string()))
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

    /// Save a screenshot of the whole of `page`, top to bottom, as
    /// `target/report-screenshots/NAME` for a person to look at, and check that every
    /// `<section id>` is inside it and drawn; the page's layout.
    pub fn screenshot(&self, page: &Path, name: &str) -> Layout {
        let layout = self.layout(page);
        let shots = super::repo().join("target/report-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        let png = self.shoot(page, &shots.join(name), layout.height);
        let problems = undrawn_sections(&png, &layout);
        assert!(problems.is_empty(), "{name}: {problems:?}");
        layout
    }

    /// A screenshot of the top `height` pixels of `page`, saved as `png`; its pixels.
    pub fn shoot(&self, page: &Path, png: &Path, height: u32) -> Png {
        let _ = std::fs::remove_file(png);
        let shot = Some((png, height));
        open_in_browser(&self.path, page, &self.profile(), &self.proxy, shot);
        Png::decode(&std::fs::read(png).expect("screenshot saved"))
    }

    /// Where `page`'s sections sit once laid out at the screenshot's width: read from a
    /// copy of the page with a script at its end that writes the layout into the DOM.
    pub fn layout(&self, page: &Path) -> Layout {
        let html = std::fs::read_to_string(page).unwrap();
        assert!(
            html.contains("</body>"),
            "{} has no </body>",
            page.display()
        );
        let probe = self.dir().join("layout-probe.html");
        std::fs::write(&probe, html.replacen("</body>", LAYOUT_PROBE, 1)).unwrap();
        let (dom, _) = self.open(&probe);
        let start = dom
            .find(r#"<pre id="layout-probe">"#)
            .expect("the layout probe ran");
        let text = &dom[start..];
        let text = &text[text.find('>').unwrap() + 1..text.find("</pre>").unwrap()];
        let mut lines = text.lines();
        let height = lines.next().unwrap().parse().unwrap();
        let sections = lines
            .map(|line| {
                let [id, top, bottom] = line.split(' ').collect::<Vec<_>>()[..] else {
                    panic!("layout line {line:?}");
                };
                (
                    id.to_string(),
                    top.parse().unwrap(),
                    bottom.parse().unwrap(),
                )
            })
            .collect();
        Layout { height, sections }
    }

    fn profile(&self) -> PathBuf {
        let n = self.profiles.get();
        self.profiles.set(n + 1);
        self.dir().join(format!("profile-{n}"))
    }
}

/// Where a page's parts sit once laid out, in CSS pixels (one pixel of a screenshot).
#[derive(Debug)]
pub struct Layout {
    /// The whole page's height.
    pub height: u32,
    /// Each `<section id=…>`: id, top, bottom.
    pub sections: Vec<(String, u32, u32)>,
}

impl Layout {
    pub fn has_section(&self, id: &str) -> bool {
        self.sections
            .iter()
            .any(|(s, top, bottom)| s == id && bottom > top)
    }
}

/// Run last in the page: the page's height, then `id top bottom` of every section.
const LAYOUT_PROBE: &str = r#"<script>(function () {
  var lines = [document.documentElement.scrollHeight];
  document.querySelectorAll("section[id]").forEach(function (s) {
    var r = s.getBoundingClientRect();
    lines.push(s.id + " " + Math.round(r.top + scrollY) + " " + Math.round(r.bottom + scrollY));
  });
  var pre = document.createElement("pre");
  pre.id = "layout-probe";
  pre.textContent = lines.join("\n");
  document.body.appendChild(pre);
})();</script></body>"#;

/// The sections a screenshot does not show: below its bottom edge, or blank (fewer than
/// one row in ten of the section's band holds more than one colour).
pub fn undrawn_sections(png: &Png, layout: &Layout) -> Vec<String> {
    let mut problems = Vec::new();
    for (id, top, bottom) in &layout.sections {
        if *bottom > png.height {
            problems.push(format!(
                "section {id} ends at {bottom}px, below the screenshot's {}px",
                png.height
            ));
        } else if bottom > top {
            let drawn = (*top..*bottom)
                .filter(|&y| !png.row_is_one_colour(y))
                .count();
            if drawn * 10 < (bottom - top) as usize {
                problems.push(format!(
                    "section {id} is blank: {drawn} of {} rows drawn",
                    bottom - top
                ));
            }
        }
    }
    problems
}

/// An 8-bit RGB or RGBA PNG as Chromium writes screenshots, decoded to its pixels.
pub struct Png {
    pub width: u32,
    pub height: u32,
    channels: usize,
    pixels: Vec<u8>,
}

impl Png {
    pub fn decode(bytes: &[u8]) -> Png {
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        let (mut header, mut data) = (None, Vec::new());
        let mut at = 8;
        while at + 12 <= bytes.len() {
            let length = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            let body = &bytes[at + 8..at + 8 + length];
            match &bytes[at + 4..at + 8] {
                b"IHDR" => header = Some(body.to_vec()),
                b"IDAT" => data.extend_from_slice(body),
                _ => {}
            }
            at += length + 12;
        }
        let header = header.expect("PNG header");
        let dimension = |i: usize| u32::from_be_bytes(header[i..i + 4].try_into().unwrap());
        let (width, height) = (dimension(0), dimension(4));
        let channels = match (header[8], header[9], header[12]) {
            (8, 2, 0) => 3,
            (8, 6, 0) => 4,
            other => panic!("PNG depth, colour type, interlace {other:?}: not read here"),
        };
        let mut filtered = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::ZlibDecoder::new(&data[..]),
            &mut filtered,
        )
        .unwrap();
        let stride = width as usize * channels;
        let mut pixels = vec![0u8; stride * height as usize];
        for y in 0..height as usize {
            let line = &filtered[y * (stride + 1)..(y + 1) * (stride + 1)];
            for x in 0..stride {
                let left = if x >= channels {
                    pixels[y * stride + x - channels]
                } else {
                    0
                };
                let up = if y > 0 {
                    pixels[(y - 1) * stride + x]
                } else {
                    0
                };
                let up_left = if y > 0 && x >= channels {
                    pixels[(y - 1) * stride + x - channels]
                } else {
                    0
                };
                let predicted = match line[0] {
                    0 => 0,
                    1 => left,
                    2 => up,
                    3 => ((left as u16 + up as u16) / 2) as u8,
                    4 => paeth(left, up, up_left),
                    filter => panic!("PNG filter {filter}"),
                };
                pixels[y * stride + x] = line[1 + x].wrapping_add(predicted);
            }
        }
        Png {
            width,
            height,
            channels,
            pixels,
        }
    }

    fn row_is_one_colour(&self, y: u32) -> bool {
        let stride = self.width as usize * self.channels;
        let row = &self.pixels[y as usize * stride..(y as usize + 1) * stride];
        row.chunks(self.channels)
            .all(|pixel| pixel == &row[..self.channels])
    }
}

fn paeth(left: u8, up: u8, up_left: u8) -> u8 {
    let p = left as i16 + up as i16 - up_left as i16;
    let (a, b, c) = (
        (p - left as i16).abs(),
        (p - up as i16).abs(),
        (p - up_left as i16).abs(),
    );
    if a <= b && a <= c {
        left
    } else if b <= c {
        up
    } else {
        up_left
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
/// scripts ran, console lines). With `screenshot`, a PNG of the window, this tall.
fn open_in_browser(
    browser: &Path,
    page: &Path,
    profile: &Path,
    proxy: &RecordingProxy,
    screenshot: Option<(&Path, u32)>,
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
        "--force-device-scale-factor=1",
    ]);
    cmd.arg(format!("--user-data-dir={}", profile.display()));
    match screenshot {
        Some((png, height)) => cmd.args([
            format!("--window-size=1280,{height}"),
            format!("--screenshot={}", png.display()),
        ]),
        None => cmd.args(["--window-size=1280,4000", "--dump-dom"]),
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
