//! deploy/kubernetes/ names things the binary must have: subcommands and flags in
//! container args, probe paths, ports, the image's user and paths. Each is checked here
//! against the real binary (`--help`, and a server started with the Deployment's own
//! arguments) and the Dockerfile. Schema validation is `.ci/kubernetes`.

mod common;
use common::http::{free_port, get, Server};
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn manifests() -> Vec<(String, String)> {
    let dir = repo().join("deploy/kubernetes");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    files
}

fn unquote(s: &str) -> String {
    s.trim().trim_matches('"').to_string()
}

/// Every `args:` list of a manifest (block style, one item per line).
fn container_args(text: &str) -> Vec<Vec<String>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut all = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() != "args:" {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let args = lines[i + 1..]
            .iter()
            .take_while(|l| {
                let at = l.len() - l.trim_start().len();
                at >= indent && l.trim_start().starts_with("- ")
            })
            .map(|l| unquote(&l.trim_start()[2..]))
            .collect();
        all.push(args);
    }
    all
}

/// Whether the manifest's top-level `kind` is `kind`.
fn is_kind(text: &str, kind: &str) -> bool {
    text.lines().any(|l| l.strip_prefix("kind: ") == Some(kind))
}

/// Values of `key: value` lines.
fn values_of(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix(key))
        .map(unquote)
        .collect()
}

#[test]
fn every_subcommand_and_flag_in_the_manifests_exists() {
    let mut checked = 0;
    for (name, text) in manifests() {
        for args in container_args(&text) {
            let command = &args[0];
            let out = run(&[command, "--help"]);
            assert!(
                out.status.success(),
                "{name}: custscore {command}: {}",
                stderr(&out)
            );
            let help = stdout(&out);
            for flag in args.iter().filter(|a| a.starts_with("--")) {
                let known = help
                    .lines()
                    .any(|l| l.split([' ', ',', '=']).any(|word| word == flag));
                assert!(known, "{name}: `custscore {command}` has no flag {flag}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "{checked}");
}

#[test]
fn image_user_paths_and_ports_agree_with_the_dockerfile() {
    let docker = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    assert!(docker.contains("--uid 10001") && docker.contains("--gid 10001"));
    assert!(docker.contains("CUSTSCORE_MODELS=/app/models"));
    assert!(docker.contains("EXPOSE 8080"));
    for (name, text) in manifests() {
        for uid in values_of(&text, "runAsUser:") {
            assert_eq!(uid, "10001", "{name}");
        }
        for group in values_of(&text, "runAsGroup:") {
            assert_eq!(group, "10001", "{name}");
        }
        for port in values_of(&text, "containerPort:") {
            assert_eq!(port, "8080", "{name}");
        }
        if is_kind(&text, "Deployment") || is_kind(&text, "Job") {
            assert!(text.contains("runAsNonRoot: true"), "{name}");
            assert!(text.contains("readOnlyRootFilesystem: true"), "{name}");
            assert!(values_of(&text, "mountPath:").contains(&"/app/models".to_string()));
        }
    }
}

/// Start the server with the Deployment's arguments, loopback address and local paths
/// substituted, and wait for /readyz.
fn start_as_deployed(args: &[String], models: &Path, keys: &Path) -> (Server, Vec<String>) {
    let port = free_port();
    let mut local = args.to_vec();
    let mut ports = Vec::new();
    for i in 1..local.len() {
        match local[i - 1].as_str() {
            "--addr" => {
                ports.push(local[i].rsplit(':').next().unwrap().to_string());
                local[i] = format!("127.0.0.1:{port}");
            }
            "--models" => local[i] = models.to_string_lossy().into_owned(),
            "--api-keys-file" => local[i] = keys.to_string_lossy().into_owned(),
            _ => {}
        }
    }
    let mut cmd = Command::new(BIN);
    cmd.args(&local)
        .current_dir(repo())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, _) in std::env::vars() {
        if key.starts_with("CUSTSCORE_") {
            cmd.env_remove(key);
        }
    }
    let server = Server {
        child: cmd.spawn().unwrap(),
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok((200, _)) = common::http::try_request(server.addr, "GET", "/readyz", &[], None) {
            return (server, ports);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("custscore {local:?} did not become ready");
}

#[test]
fn the_deployments_probes_answer_on_the_server_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let keys = write(dir.path(), "api_keys", b"a-test-key\n");
    let (_, text) = manifests()
        .into_iter()
        .find(|(_, t)| is_kind(t, "Deployment"))
        .unwrap();
    let args = &container_args(&text)[0];
    assert_eq!(args[0], "serve");
    let (server, ports) = start_as_deployed(args, &models, &keys);
    assert_eq!(
        ports,
        values_of(&text, "containerPort:"),
        "--addr port = containerPort"
    );
    let paths: Vec<String> = values_of(&text, "path:")
        .into_iter()
        .filter(|p| p.starts_with('/'))
        .collect();
    assert!(paths.contains(&"/readyz".to_string()) && paths.contains(&"/healthz".to_string()));
    for path in paths {
        let response = get(server.addr, &path);
        assert_eq!(response.status, 200, "{path}: {}", response.body);
    }
    // The API itself needs the key the mounted secret holds.
    let response = get(server.addr, "/v1/models");
    assert_eq!(response.status, 401, "{}", response.body);
}
