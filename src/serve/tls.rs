//! HTTPS without a proxy in front: `--tls-cert` (PEM chain, leaf first) and `--tls-key`
//! (PEM private key), served with rustls on the ring provider (TLS 1.2 and 1.3).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{flag} {}: {reason}", path.display())]
    File {
        flag: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("--tls-cert / --tls-key")]
    Config(#[from] rustls::Error),
}

fn file_error(flag: &'static str, path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        flag,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// The rustls server configuration for these files; the key must match the certificate.
pub fn server_config(files: &TlsFiles) -> Result<rustls::ServerConfig, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| file_error("--tls-cert", &files.cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error("--tls-cert", &files.cert, e))?;
    if certs.is_empty() {
        return Err(file_error(
            "--tls-cert",
            &files.cert,
            "holds no PEM certificate",
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| file_error("--tls-key", &files.key, format!("no PEM private key ({e})")))?;
    // The only provider built in is ring (see Cargo.toml), so the default is ring.
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_empty_files_name_the_flag_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let files = TlsFiles {
            cert: dir.path().join("none.pem"),
            key: empty.clone(),
        };
        let e = server_config(&files).unwrap_err().to_string();
        assert!(e.starts_with("--tls-cert") && e.contains("none.pem"), "{e}");
        let files = TlsFiles {
            cert: empty.clone(),
            key: empty,
        };
        let e = server_config(&files).unwrap_err().to_string();
        assert!(e.contains("holds no PEM certificate"), "{e}");
    }
}
