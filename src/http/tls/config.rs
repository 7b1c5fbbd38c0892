//! `[tls]`: native TLS on the listener, from PEM files that are re-read on change.

use std::{path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

use crate::setting::InvalidSetting;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// The certificate chain (PEM), leaf first. With `key_file`, the listener
    /// speaks TLS 1.2 and 1.3 only; without both, plain http (loopback, or behind
    /// a TLS-terminating proxy).
    pub cert_file: Option<PathBuf>,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
    /// How often the two files are checked for a new certificate. A change is
    /// used for new connections; open ones keep theirs. A pair that does not
    /// load (half-written, key not matching) is logged and the last good one kept.
    #[serde(with = "humantime_serde")]
    pub reload_interval: Duration,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert_file: None,
            key_file: None,
            reload_interval: Duration::from_secs(30),
        }
    }
}

impl TlsConfig {
    /// The two files, when TLS is on.
    pub fn files(&self) -> Result<Option<(PathBuf, PathBuf)>, InvalidSetting> {
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => Ok(Some((cert.clone(), key.clone()))),
            (None, None) => Ok(None),
            (Some(_), None) => Err(InvalidSetting::new(
                "tls.key_file",
                "is required with tls.cert_file",
            )),
            (None, Some(_)) => Err(InvalidSetting::new(
                "tls.cert_file",
                "is required with tls.key_file",
            )),
        }
    }

    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.reload_interval < Duration::from_millis(100) {
            return Err(InvalidSetting::new(
                "tls.reload_interval",
                "must be at least 100ms",
            ));
        }
        self.files().map(drop)
    }
}
