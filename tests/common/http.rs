//! A real server process on 127.0.0.1 and a tiny HTTP/1.1 client for talking to it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start `custscore serve` on a free loopback port and wait until /readyz answers.
pub fn start(models: &Path, extra: &[&str]) -> Server {
    let server = spawn(models, extra, Stdio::null());
    wait_ready(server, None, |addr| {
        matches!(try_request(addr, "GET", "/readyz", &[], None), Ok((200, _)))
    })
}

/// `start`, with the server's stderr (its log) written to `log`.
pub fn start_logged(models: &Path, extra: &[&str], log: &Path) -> Server {
    let server = spawn(models, extra, std::fs::File::create(log).unwrap().into());
    wait_ready(server, Some(log), |addr| {
        matches!(try_request(addr, "GET", "/readyz", &[], None), Ok((200, _)))
    })
}

/// `start_logged` for a server with `--tls-cert`: ready once curl trusting `cacert`
/// gets /readyz over HTTPS.
pub fn start_https(models: &Path, extra: &[&str], log: &Path, cacert: &Path) -> Server {
    let server = spawn(models, extra, std::fs::File::create(log).unwrap().into());
    wait_ready(server, Some(log), |addr| {
        Command::new("curl")
            .args(["-sf", "-o", "/dev/null", "--cacert"])
            .arg(cacert)
            .arg(format!("https://127.0.0.1:{}/readyz", addr.port()))
            .status()
            .expect("curl is installed (the TLS test needs it)")
            .success()
    })
}

/// `custscore serve` on a free loopback port, no CUSTSCORE_* variables leaking in.
fn spawn(models: &Path, extra: &[&str], stderr: Stdio) -> Server {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut cmd = Command::new(super::BIN);
    cmd.args([
        "serve",
        "--models",
        models.to_str().unwrap(),
        "--addr",
        &addr.to_string(),
    ])
    .args(extra)
    .current_dir(super::repo())
    .stdout(Stdio::null())
    .stderr(stderr);
    for (key, _) in std::env::vars() {
        if key.starts_with("CUSTSCORE_") {
            cmd.env_remove(key);
        }
    }
    let child = cmd.spawn().expect("server starts");
    Server { child, addr }
}

/// Wait until `ready` holds; a server that exits or is not ready within 120 s fails the
/// test, with its log when there is one.
fn wait_ready(
    mut server: Server,
    log: Option<&Path>,
    ready: impl Fn(SocketAddr) -> bool,
) -> Server {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if ready(server.addr) {
            return server;
        }
        if server.child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let logged = log.map(|l| std::fs::read_to_string(l).unwrap_or_default());
    panic!(
        "server on {} did not become ready: {}",
        server.addr,
        logged.unwrap_or_default()
    );
}

pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let (status, body) = try_request(addr, method, path, headers, body).expect("request");
    Response { status, body }
}

pub fn post_json(addr: SocketAddr, path: &str, body: &str) -> Response {
    request(
        addr,
        "POST",
        path,
        &[("content-type", "application/json")],
        Some(body.as_bytes()),
    )
}

pub fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, &[], None)
}

/// Send one request on a fresh connection and read one complete response. A response cut
/// short (fewer body bytes than its `content-length`, an unfinished chunked body, or a
/// reset before the end) is an error, so callers can tell a dropped connection from an
/// answer.
pub fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    // Head and body go in two writes: without this, Nagle waits for the delayed ACK of
    // the head (40 ms per request).
    stream.set_nodelay(true)?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("content-length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if let Some(b) = body {
        // A server may answer (413) and close before reading a large body.
        let _ = stream.write_all(b);
    }
    // Read until the response is complete, not until the server closes: a server that
    // answers before reading the whole body may linger before closing. Bytes read before
    // an error are kept, so a reset after a complete response still counts as an answer.
    let mut raw = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    let ended = loop {
        match stream.read(&mut buffer) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                raw.extend_from_slice(&buffer[..n]);
                if let Ok(done) = parse_response(&raw, false) {
                    return Ok(done);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    parse_response(&raw, true).map_err(|why| {
        std::io::Error::other(format!(
            "{why} (read ended with {ended:?}) in {:?}",
            String::from_utf8_lossy(&raw[..raw.len().min(300)])
        ))
    })
}

/// Status and body of one complete HTTP/1.1 response; a body without a length or chunked
/// encoding is complete only when the connection has ended (`at_eof`).
fn parse_response(raw: &[u8], at_eof: bool) -> Result<(u16, String), String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no complete response head")?;
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status line")?;
    let header = |name: &str| {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_string())
    };
    let rest = &raw[end + 4..];
    let body = if let Some(length) = header("content-length") {
        let length: usize = length.parse().map_err(|_| "bad content-length")?;
        if rest.len() < length {
            return Err(format!("body cut at {} of {length} bytes", rest.len()));
        }
        &rest[..length]
    } else if header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        return dechunk(rest).map(|b| (status, b));
    } else if at_eof {
        rest
    } else {
        return Err("body without a length: read to the end".into());
    };
    Ok((status, String::from_utf8_lossy(body).into_owned()))
}

fn dechunk(mut rest: &[u8]) -> Result<String, String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunked body cut in a chunk size")?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(String::from_utf8_lossy(&body).into_owned());
        }
        if rest.len() < size + 2 {
            return Err("chunked body cut in a chunk".into());
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}
