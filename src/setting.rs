//! The building blocks of configuration sections. Each section lives in the
//! module that uses it (`auth`, `authz`, `broker`, `http`, `telemetry`) and
//! checks its own values; this leaf module gives them one way to report a bad
//! value ([`InvalidSetting`], naming the key) and the readers and checks they
//! share. [`crate::config`] layers the sources and composes the sections.

use std::fmt;

use url::Url;

/// A configuration value that cannot be used; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value for `{key}`: {message}")]
pub struct InvalidSetting {
    pub key: String,
    pub message: String,
}

impl InvalidSetting {
    pub fn new(key: impl Into<String>, message: impl fmt::Display) -> Self {
        Self {
            key: key.into(),
            message: message.to_string(),
        }
    }
}

/// The largest file the configuration may name (policies, mapping file, Box app
/// JSON, TLS certificate and key): far above any real one, and a bound on what a
/// wrong path (`/dev/zero`, a log file) can make the server read.
pub const MAX_CONFIG_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a file the configuration names: a regular file (a symlink to one is
/// fine) of at most [`MAX_CONFIG_FILE_BYTES`]. A FIFO or device is refused before
/// it is opened, so a wrong path fails at once instead of blocking or filling memory.
pub fn read_config_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    if !std::fs::metadata(path)?.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, "not a regular file"));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_CONFIG_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CONFIG_FILE_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("larger than {} MiB", MAX_CONFIG_FILE_BYTES / (1024 * 1024)),
        ));
    }
    Ok(bytes)
}

/// [`read_config_file`] as UTF-8 text.
pub fn read_config_text(path: &std::path::Path) -> std::io::Result<String> {
    String::from_utf8(read_config_file(path)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// `url` is an absolute `http` or `https` URL with a host.
pub fn check_http_url(url: &Url, key: &'static str) -> Result<(), InvalidSetting> {
    match url.scheme() {
        "http" | "https" if url.host().is_some() => {}
        _ => return Err(InvalidSetting::new(key, "must be an absolute http(s) URL")),
    }
    // A URL is logged with every error about it (and reqwest's errors print it):
    // credentials inside one would reach the logs.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(InvalidSetting::new(
            key,
            "must not hold credentials (user:password@); use the settings made for them",
        ));
    }
    Ok(())
}

/// Whether `url`'s host is this machine: `localhost`, 127.0.0.0/8 or `::1`.
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The transport rule for every URL box-mcp publishes or calls: `https`, or plain
/// `http` only to a loopback host, unless the operator opted out (`opt_out`, e.g.
/// `allow_insecure_http`) for a lab. `url` has passed [`check_http_url`].
pub fn check_transport(
    url: &Url,
    key: &'static str,
    opt_out: (&'static str, bool),
) -> Result<(), InvalidSetting> {
    let (switch, allowed) = opt_out;
    if url.scheme() == "https" || allowed || is_loopback_host(url) {
        return Ok(());
    }
    Err(InvalidSetting::new(
        key,
        format!(
            "must be https: plain http is allowed only to a loopback host, or for a lab with {switch} = true"
        ),
    ))
}

/// RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`.
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Optional secrets: read as text (figment turns an all-digit environment value
/// into a number: accept that too), and always written as `"[redacted]"`.
pub mod secret_string {
    use secrecy::SecretString;
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Unsigned(u64),
        Signed(i64),
    }

    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
        Ok(Option::<Raw>::deserialize(d)?.and_then(|raw| {
            let text = match raw {
                Raw::Text(s) => s,
                Raw::Unsigned(n) => n.to_string(),
                Raw::Signed(n) => n.to_string(),
            };
            (!text.is_empty()).then(|| SecretString::from(text))
        }))
    }

    pub fn serialize_redacted<S: Serializer>(
        value: &Option<SecretString>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(_) => s.serialize_some("[redacted]"),
            None => s.serialize_none(),
        }
    }
}

/// Ids are strings, but figment parses environment values (`31000002` becomes a
/// number): accept both and keep the digits as written.
pub mod id_string {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Unsigned(u64),
        Signed(i64),
    }

    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<Id>::deserialize(d)?.map(|id| match id {
            Id::Text(s) => s,
            Id::Unsigned(n) => n.to_string(),
            Id::Signed(n) => n.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_are_absolute_and_hold_no_credentials() {
        let check = |u: &str| check_http_url(&Url::parse(u).unwrap(), "x").map_err(|e| e.message);
        assert!(check("https://idp.example.com/token").is_ok());
        assert!(check("ftp://idp.example.com/").is_err());
        for with_credentials in [
            "https://user:secret@idp.example.com/token",
            "https://user@idp.example.com/token",
            "https://:secret@idp.example.com/token",
        ] {
            assert!(
                check(with_credentials)
                    .unwrap_err()
                    .contains("must not hold credentials"),
                "{with_credentials}"
            );
        }
    }

    #[test]
    fn configuration_files_are_regular_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.csv");
        std::fs::write(&ok, "p, role:x, whoami, read\n").unwrap();
        assert_eq!(read_config_text(&ok).unwrap(), "p, role:x, whoami, read\n");
        let error = read_config_file(std::path::Path::new("/dev/zero")).unwrap_err();
        assert_eq!(error.to_string(), "not a regular file");
        let big = dir.path().join("big");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_CONFIG_FILE_BYTES + 1)
            .unwrap();
        assert!(
            read_config_file(&big)
                .unwrap_err()
                .to_string()
                .contains("larger than")
        );
        let binary = dir.path().join("binary");
        std::fs::write(&binary, [0xff, 0xfe]).unwrap();
        assert!(read_config_text(&binary).is_err());
        assert!(
            read_config_file(dir.path()).is_err(),
            "a directory is not a file"
        );
    }

    #[test]
    fn scope_tokens_follow_rfc_6749() {
        assert!(is_scope_token("mcp:tools"));
        assert!(!is_scope_token(""));
        assert!(!is_scope_token("a b"));
        assert!(!is_scope_token("a\"b"));
        assert!(!is_scope_token("a\\b"));
    }

    #[test]
    fn only_absolute_http_urls_pass() {
        assert!(check_http_url(&Url::parse("https://h/x").unwrap(), "k").is_ok());
        let err = check_http_url(&Url::parse("ftp://h").unwrap(), "k").unwrap_err();
        assert_eq!(err.key, "k");
    }
}
