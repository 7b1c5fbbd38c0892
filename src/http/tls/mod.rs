//! Native TLS (rustls, TLS 1.2 and 1.3, HTTP/1.1 by ALPN) for the listener. The
//! certificate is served through a resolver that holds the current pair; a task
//! re-reads the files every `tls.reload_interval` and swaps in a changed pair,
//! so a rotation needs no restart and drops no connection (a TLS session keeps
//! the certificate it was made with).
//!
//! Polling rather than file events: certificate managers replace files by
//! renaming directories and symlinks (Kubernetes secrets), which event watchers
//! see inconsistently; comparing the bytes every interval sees every change.

mod config;

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
};

use arc_swap::ArcSwap;
use rustls::{
    ServerConfig,
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio_rustls::TlsAcceptor;

pub use config::TlsConfig;

/// Why a certificate and key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: String },
    #[error("{path}: {reason}")]
    BadPem { path: String, reason: String },
    #[error("the key in {key} cannot sign: {reason}")]
    BadKey { key: String, reason: String },
    #[error("the key in {key} does not belong to the certificate in {cert}")]
    KeyMismatch { cert: String, key: String },
    #[error("TLS setup: {0}")]
    Setup(String),
}

/// A certificate and key, as read from their files.
#[derive(Clone)]
pub struct LoadedPair {
    key: Arc<CertifiedKey>,
    /// The files' bytes, to see a change.
    bytes: (Vec<u8>, Vec<u8>),
}

impl fmt::Debug for LoadedPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key's bytes.
        f.debug_struct("LoadedPair")
            .field("certificates", &self.key.cert.len())
            .finish()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    crate::setting::read_config_file(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Reads and checks a pair: the chain parses, the key parses and signs, and the
/// key is the certificate's.
pub fn load_pair(cert: &Path, key: &Path) -> Result<LoadedPair, TlsError> {
    let bytes = (read(cert)?, read(key)?);
    parse_pair(cert, key, bytes)
}

fn parse_pair(cert: &Path, key: &Path, bytes: (Vec<u8>, Vec<u8>)) -> Result<LoadedPair, TlsError> {
    let shown = |p: &Path| p.display().to_string();
    let chain = CertificateDer::pem_slice_iter(&bytes.0)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadPem {
            path: shown(cert),
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path: shown(cert) });
    }
    // The parse error names the PEM problem, never the key material.
    let private = PrivateKeyDer::from_pem_slice(&bytes.1).map_err(|e| TlsError::BadPem {
        path: shown(key),
        reason: e.to_string(),
    })?;
    let signing = provider()
        .key_provider
        .load_private_key(private)
        .map_err(|e| TlsError::BadKey {
            key: shown(key),
            reason: e.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|_| TlsError::KeyMismatch {
        cert: shown(cert),
        key: shown(key),
    })?;
    Ok(LoadedPair {
        key: Arc::new(certified),
        bytes,
    })
}

fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

/// Serves the current pair to every handshake.
#[derive(Debug)]
struct CurrentCertificate(ArcSwap<LoadedPair>);

impl ResolvesServerCert for CurrentCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0.load().key))
    }
}

/// The listener's TLS: the acceptor, and the reloading of its certificate.
pub struct Tls {
    acceptor: TlsAcceptor,
    current: Arc<CurrentCertificate>,
    files: (PathBuf, PathBuf),
}

impl Tls {
    pub fn new(files: (PathBuf, PathBuf), first: LoadedPair) -> Result<Self, TlsError> {
        let current = Arc::new(CurrentCertificate(ArcSwap::from_pointee(first)));
        let mut config = ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        // The listener speaks HTTP/1.1 only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            current,
            files,
        })
    }

    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.clone()
    }

    /// Re-reads the files; swaps in a changed pair that loads. Returns whether it swapped.
    pub fn reload(&self) -> bool {
        let (cert, key) = &self.files;
        let bytes = match (read(cert), read(key)) {
            (Ok(c), Ok(k)) => (c, k),
            (Err(error), _) | (_, Err(error)) => {
                tracing::error!(%error, "TLS certificate not reloaded; the last good one stays");
                return false;
            }
        };
        if bytes == self.current.0.load().bytes {
            return false;
        }
        match parse_pair(cert, key, bytes) {
            Ok(pair) => {
                self.current.0.store(Arc::new(pair));
                tracing::info!(cert = %cert.display(), "TLS certificate reloaded");
                true
            }
            Err(error) => {
                // Often a rotation caught between its two writes: the next check sees both.
                tracing::error!(%error, "TLS certificate not reloaded; the last good one stays");
                false
            }
        }
    }

    /// Checks the files every `interval` until the task is aborted.
    pub fn spawn_reloader(
        self: &Arc<Self>,
        interval: std::time::Duration,
    ) -> tokio::task::JoinHandle<()> {
        let tls = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let reload = Arc::clone(&tls);
                // File reads off the async workers.
                let _ = tokio::task::spawn_blocking(move || reload.reload()).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let c = dir.join(format!("{name}.crt"));
        let k = dir.join(format!("{name}.key"));
        std::fs::write(&c, cert.cert.pem()).unwrap();
        std::fs::write(&k, cert.signing_key.serialize_pem()).unwrap();
        (c, k)
    }

    #[test]
    fn a_pair_loads_and_a_mismatched_or_broken_one_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let (c1, k1) = pair(dir.path(), "one");
        let (_, k2) = pair(dir.path(), "two");
        load_pair(&c1, &k1).unwrap();
        let mismatch = load_pair(&c1, &k2).unwrap_err().to_string();
        assert!(mismatch.contains("does not belong"), "{mismatch}");
        let empty = dir.path().join("empty.crt");
        std::fs::write(&empty, "").unwrap();
        assert!(matches!(
            load_pair(&empty, &k1),
            Err(TlsError::NoCertificate { .. })
        ));
        let garbage = dir.path().join("garbage.key");
        std::fs::write(
            &garbage,
            "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let error = load_pair(&c1, &garbage).unwrap_err().to_string();
        assert!(error.contains("garbage.key"), "{error}");
        assert!(matches!(
            load_pair(&dir.path().join("missing.crt"), &k1),
            Err(TlsError::Read { .. })
        ));
    }

    #[test]
    fn reload_swaps_only_a_changed_pair_that_loads() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = pair(dir.path(), "live");
        let tls = Tls::new((c.clone(), k.clone()), load_pair(&c, &k).unwrap()).unwrap();
        assert!(!tls.reload(), "unchanged files are not reloaded");
        // Half a rotation: a new certificate with the old key is refused.
        let (c2, k2) = pair(dir.path(), "next");
        std::fs::copy(&c2, &c).unwrap();
        assert!(!tls.reload());
        std::fs::copy(&k2, &k).unwrap();
        assert!(tls.reload());
    }
}
