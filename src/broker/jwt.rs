//! The Box JWT app: its configuration file, its private key, and the assertions
//! signed with it.
//!
//! Box hands out the app configuration as JSON:
//!
//! ```json
//! { "boxAppSettings": { "clientID": "…", "clientSecret": "…",
//!     "appAuth": { "publicKeyID": "…", "privateKey": "-----BEGIN ENCRYPTED PRIVATE KEY-----…",
//!                  "passphrase": "…" } },
//!   "enterpriseID": "…" }
//! ```
//!
//! The private key is an encrypted PKCS#8 PEM (Box generates PBES2 with
//! PBKDF2-HMAC-SHA1 and DES-EDE3-CBC; AES variants and PBKDF2-SHA-2 are read
//! too). It is decrypted once, at load, with the `pkcs8` crate, and its inner
//! PKCS#1 `RSAPrivateKey` handed to jsonwebtoken. Unencrypted `PRIVATE KEY` and
//! `RSA PRIVATE KEY` PEMs are accepted as well (tests, local setups).

use std::{
    fmt,
    path::Path,
    time::{SystemTime, UNIX_EPOCH},
};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pkcs8::{
    EncryptedPrivateKeyInfoRef, PrivateKeyInfoRef,
    der::{Decode, Document},
};
use rand::{Rng, distr::Alphanumeric};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{Subject, error::BrokerError};

/// `rsaEncryption` (RFC 8017).
const RSA_ENCRYPTION: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Lifetime of an assertion. Box accepts at most 60 s; a little less leaves
/// room for clock skew.
pub const ASSERTION_LIFETIME_SECS: u64 = 45;

/// Length of the random `jti` (Box: 16 to 128 characters).
const JTI_LENGTH: usize = 32;

/// The claims of a Box JWT assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionClaims {
    /// The app's client id.
    pub iss: String,
    /// The enterprise id or the user id.
    pub sub: String,
    /// `enterprise` or `user`.
    pub box_sub_type: String,
    /// The token endpoint URL.
    pub aud: String,
    /// Unique per assertion.
    pub jti: String,
    /// Unix seconds, at most 60 s ahead.
    pub exp: u64,
}

/// A loaded JWT app. The client secret and the key never leave it in clear
/// text except inside a request to the token endpoint.
#[derive(Clone)]
pub struct JwtApp {
    pub client_id: String,
    pub client_secret: SecretString,
    pub public_key_id: String,
    /// `enterpriseID` from the file, if any.
    pub enterprise_id: Option<String>,
    key: EncodingKey,
}

impl fmt::Debug for JwtApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtApp")
            .field("client_id", &self.client_id)
            .field("public_key_id", &self.public_key_id)
            .field("enterprise_id", &self.enterprise_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFile {
    box_app_settings: RawAppSettings,
    #[serde(rename = "enterpriseID", default, deserialize_with = "lenient_id")]
    enterprise_id: Option<String>,
}

#[derive(Deserialize)]
struct RawAppSettings {
    #[serde(rename = "clientID", default, deserialize_with = "lenient_id")]
    client_id: Option<String>,
    #[serde(rename = "clientSecret", default)]
    client_secret: Option<SecretString>,
    #[serde(rename = "appAuth")]
    app_auth: RawAppAuth,
}

#[derive(Deserialize)]
struct RawAppAuth {
    #[serde(rename = "publicKeyID", default, deserialize_with = "lenient_id")]
    public_key_id: Option<String>,
    #[serde(rename = "privateKey")]
    private_key: SecretString,
    #[serde(default)]
    passphrase: Option<SecretString>,
}

/// Ids may be written as numbers (`"enterpriseID": 12345`); keep the digits.
fn lenient_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

impl JwtApp {
    /// Reads and checks the Box app configuration file. `passphrase` overrides
    /// the file's `appAuth.passphrase`. Errors name the configuration key.
    pub fn load(path: &Path, passphrase: Option<&SecretString>) -> Result<Self, BrokerError> {
        let text = crate::setting::read_config_text(path).map_err(|e| {
            BrokerError::config(
                "box.jwt_config_file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        Self::from_json(&text, passphrase).map_err(|e| match e {
            BrokerError::Config { key, message } => BrokerError::Config {
                key,
                message: format!("{}: {message}", path.display()),
            },
            other => other,
        })
    }

    /// Parses a Box app configuration JSON document.
    pub fn from_json(text: &str, passphrase: Option<&SecretString>) -> Result<Self, BrokerError> {
        const KEY: &str = "box.jwt_config_file";
        // serde_json's message may quote part of the input: keep only where it failed.
        let raw: RawFile = serde_json::from_str(text).map_err(|e| {
            BrokerError::config(
                KEY,
                format!(
                    "not a Box app configuration (boxAppSettings.clientID, clientSecret, appAuth.publicKeyID, privateKey, passphrase): {:?} error at line {} column {}",
                    e.classify(),
                    e.line(),
                    e.column()
                ),
            )
        })?;
        let settings = raw.box_app_settings;
        let client_id = settings
            .client_id
            .ok_or_else(|| BrokerError::config(KEY, "boxAppSettings.clientID is missing"))?;
        let client_secret = settings
            .client_secret
            .filter(|s| !s.expose_secret().is_empty())
            .ok_or_else(|| BrokerError::config(KEY, "boxAppSettings.clientSecret is missing"))?;
        let public_key_id = settings.app_auth.public_key_id.ok_or_else(|| {
            BrokerError::config(KEY, "boxAppSettings.appAuth.publicKeyID is missing")
        })?;
        let (passphrase, passphrase_key) = match passphrase {
            Some(p) => (Some(p), "box.jwt_passphrase"),
            None => (settings.app_auth.passphrase.as_ref(), KEY),
        };
        let key = private_key(
            settings.app_auth.private_key.expose_secret(),
            passphrase,
            passphrase_key,
        )?;
        // Fail at load, not at the first call, if the key cannot sign.
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &serde_json::json!({}), &key)
            .map_err(|e| {
                BrokerError::config(
                    KEY,
                    format!("appAuth.privateKey is not a usable RSA key: {e}"),
                )
            })?;
        Ok(Self {
            client_id,
            client_secret,
            public_key_id,
            enterprise_id: raw.enterprise_id,
            key,
        })
    }

    /// The claims of a new assertion for `subject`, expiring in
    /// [`ASSERTION_LIFETIME_SECS`], with a fresh random `jti`.
    pub fn claims(&self, subject: &Subject, audience: &str) -> AssertionClaims {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let jti: String = rand::rng()
            .sample_iter(Alphanumeric)
            .take(JTI_LENGTH)
            .map(char::from)
            .collect();
        AssertionClaims {
            iss: self.client_id.clone(),
            sub: subject.id().to_string(),
            box_sub_type: subject.box_subject_type().to_string(),
            aud: audience.to_string(),
            jti,
            exp: now + ASSERTION_LIFETIME_SECS,
        }
    }

    /// A signed assertion (RS256, `kid` = the app's public key id).
    pub fn assertion(
        &self,
        subject: &Subject,
        audience: &str,
    ) -> Result<SecretString, BrokerError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.public_key_id.clone());
        jsonwebtoken::encode(&header, &self.claims(subject, audience), &self.key)
            .map(SecretString::from)
            .map_err(|e| BrokerError::config("box.jwt_config_file", format!("cannot sign: {e}")))
    }
}

/// Turns the PEM into the PKCS#1 DER jsonwebtoken signs with.
fn private_key(
    pem: &str,
    passphrase: Option<&SecretString>,
    passphrase_key: &str,
) -> Result<EncodingKey, BrokerError> {
    const KEY: &str = "box.jwt_config_file";
    let (label, document) = Document::from_pem(pem.trim()).map_err(|e| {
        BrokerError::config(KEY, format!("appAuth.privateKey is not a PEM key: {e}"))
    })?;
    match label {
        "ENCRYPTED PRIVATE KEY" => {
            let passphrase = passphrase
                .map(|p| p.expose_secret())
                .filter(|p| !p.is_empty())
                .ok_or_else(|| {
                    BrokerError::config(
                        passphrase_key,
                        "the private key is encrypted and no passphrase is set (appAuth.passphrase or box.jwt_passphrase)",
                    )
                })?;
            let encrypted =
                EncryptedPrivateKeyInfoRef::from_der(document.as_bytes()).map_err(|e| {
                    BrokerError::config(KEY, format!("appAuth.privateKey is not PKCS#8: {e}"))
                })?;
            let decrypted = encrypted.decrypt(passphrase).map_err(|e| {
                BrokerError::config(
                    passphrase_key,
                    format!(
                        "cannot decrypt appAuth.privateKey (wrong passphrase or unsupported encryption): {e}"
                    ),
                )
            })?;
            rsa_from_pkcs8(decrypted.as_bytes())
        }
        "PRIVATE KEY" => rsa_from_pkcs8(document.as_bytes()),
        "RSA PRIVATE KEY" => Ok(EncodingKey::from_rsa_der(document.as_bytes())),
        other => Err(BrokerError::config(
            KEY,
            format!("appAuth.privateKey is a {other:?} PEM, not a private key"),
        )),
    }
}

fn rsa_from_pkcs8(der: &[u8]) -> Result<EncodingKey, BrokerError> {
    let info = PrivateKeyInfoRef::from_der(der).map_err(|e| {
        BrokerError::config(
            "box.jwt_config_file",
            format!("appAuth.privateKey is not PKCS#8: {e}"),
        )
    })?;
    if info.algorithm.oid != RSA_ENCRYPTION {
        return Err(BrokerError::config(
            "box.jwt_config_file",
            format!(
                "appAuth.privateKey is not an RSA key (algorithm {})",
                info.algorithm.oid
            ),
        ));
    }
    Ok(EncodingKey::from_rsa_der(info.private_key.as_bytes()))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::OnceLock;

    use aws_lc_rs::{
        encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der},
        rsa::{KeyPair, KeySize},
        signature::KeyPair as _,
    };
    use jsonwebtoken::{DecodingKey, Validation};
    use pkcs8::{
        LineEnding,
        pkcs5::pbes2::{self, EncryptionScheme, Kdf, Pbkdf2Params, Pbkdf2Prf},
    };

    use super::*;

    /// One RSA key per test binary: (PKCS#8 DER, SPKI DER).
    pub(crate) fn test_key() -> &'static (Vec<u8>, Vec<u8>) {
        static KEY: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
        KEY.get_or_init(|| {
            let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
            let private = AsDer::<Pkcs8V1Der>::as_der(&pair).unwrap();
            let public = AsDer::<PublicKeyX509Der>::as_der(pair.public_key()).unwrap();
            (private.as_ref().to_vec(), public.as_ref().to_vec())
        })
    }

    /// The key encrypted the way Box does: PBES2, PBKDF2-HMAC-SHA1 (2048
    /// iterations), DES-EDE3-CBC.
    pub(crate) fn box_style_encrypted_pem(passphrase: &str) -> String {
        let params = pbes2::Parameters {
            kdf: Kdf::from(Pbkdf2Params {
                salt: pbes2::Salt::new([7u8; 8]).unwrap(),
                iteration_count: 2048,
                key_length: None,
                prf: Pbkdf2Prf::HmacWithSha1,
            }),
            encryption: EncryptionScheme::DesEde3Cbc { iv: [9u8; 8] },
        };
        encrypt(params, passphrase)
    }

    fn encrypt(params: pbes2::Parameters, passphrase: &str) -> String {
        let info = PrivateKeyInfoRef::from_der(&test_key().0).unwrap();
        let doc = info.encrypt_with_params(params, passphrase).unwrap();
        doc.to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
            .unwrap()
            .to_string()
    }

    pub(crate) fn app_json(private_key: &str, passphrase: &str) -> String {
        serde_json::json!({
            "boxAppSettings": {
                "clientID": "jwt-client",
                "clientSecret": "jwt-secret",
                "appAuth": {
                    "publicKeyID": "key-1",
                    "privateKey": private_key,
                    "passphrase": passphrase,
                }
            },
            "enterpriseID": 1100000
        })
        .to_string()
    }

    fn decode(token: &str) -> (jsonwebtoken::Header, AssertionClaims) {
        let key = DecodingKey::from_rsa_der(&rsa_public_pkcs1());
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["https://api.box.com/oauth2/token"]);
        validation.set_required_spec_claims(&["exp", "aud"]);
        let data = jsonwebtoken::decode::<AssertionClaims>(token, &key, &validation).unwrap();
        (data.header, data.claims)
    }

    /// The PKCS#1 public key inside the SPKI (what `DecodingKey::from_rsa_der` wants).
    fn rsa_public_pkcs1() -> Vec<u8> {
        let spki = pkcs8::SubjectPublicKeyInfoRef::from_der(&test_key().1).unwrap();
        spki.subject_public_key.raw_bytes().to_vec()
    }

    #[test]
    fn box_style_encrypted_keys_decrypt_and_sign() {
        let app = JwtApp::from_json(&app_json(&box_style_encrypted_pem("pw"), "pw"), None).unwrap();
        assert_eq!(app.client_id, "jwt-client");
        assert_eq!(app.enterprise_id.as_deref(), Some("1100000"));
        let token = app
            .assertion(
                &Subject::Enterprise("1100000".into()),
                "https://api.box.com/oauth2/token",
            )
            .unwrap();
        let (header, claims) = decode(token.expose_secret());
        assert_eq!(header.kid.as_deref(), Some("key-1"));
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(claims.iss, "jwt-client");
        assert_eq!(claims.sub, "1100000");
        assert_eq!(claims.box_sub_type, "enterprise");
        assert_eq!(claims.aud, "https://api.box.com/oauth2/token");
    }

    #[test]
    fn openssl3_style_aes_keys_decrypt() {
        let params =
            pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(2048, &[1u8; 16], [2u8; 16])
                .unwrap();
        let pem = encrypt(params, "pw");
        assert!(JwtApp::from_json(&app_json(&pem, "pw"), None).is_ok());
    }

    #[test]
    fn assertion_claims_follow_box_rules() {
        let app = JwtApp::from_json(&app_json(&box_style_encrypted_pem("pw"), "pw"), None).unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let a = app.claims(&Subject::User("31000001".into()), "https://t/oauth2/token");
        let b = app.claims(&Subject::User("31000001".into()), "https://t/oauth2/token");
        assert_eq!(a.sub, "31000001");
        assert_eq!(a.box_sub_type, "user");
        assert_eq!(a.aud, "https://t/oauth2/token");
        assert!((16..=128).contains(&a.jti.len()));
        assert_ne!(a.jti, b.jti, "jti must be unique");
        assert!(a.exp > now && a.exp <= now + 60, "exp at most 60 s ahead");
    }

    #[test]
    fn passphrase_override_wins_and_wrong_passphrases_name_the_key() {
        let pem = box_style_encrypted_pem("right");
        let json = app_json(&pem, "wrong");
        let err = JwtApp::from_json(&json, None).unwrap_err();
        assert!(
            matches!(&err, BrokerError::Config { key, .. } if key == "box.jwt_config_file"),
            "{err}"
        );
        assert!(err.to_string().contains("cannot decrypt"), "{err}");
        assert!(JwtApp::from_json(&json, Some(&"right".into())).is_ok());
        let err = JwtApp::from_json(&json, Some(&"nope".into())).unwrap_err();
        assert!(
            matches!(&err, BrokerError::Config { key, .. } if key == "box.jwt_passphrase"),
            "{err}"
        );
    }

    #[test]
    fn bad_files_are_refused_without_echoing_secrets() {
        let err = JwtApp::from_json(
            r#"{"boxAppSettings": {"clientSecret": "s3cr3t-value"}}"#,
            None,
        )
        .unwrap_err();
        assert!(!err.to_string().contains("s3cr3t-value"), "{err}");
        let err = JwtApp::from_json(&app_json("not a pem", "pw"), None).unwrap_err();
        assert!(err.to_string().contains("not a PEM"), "{err}");
    }

    #[test]
    fn plain_pkcs8_keys_are_accepted() {
        let pem =
            pkcs8::der::pem::encode_string("PRIVATE KEY", LineEnding::LF, &test_key().0).unwrap();
        let app = JwtApp::from_json(&app_json(&pem, ""), None).unwrap();
        assert!(!format!("{app:?}").contains("jwt-secret"));
    }

    /// The sandbox's Box app configuration (test-only key material, AES-256
    /// PBES2) loads as a real one would.
    #[test]
    fn sandbox_fixture_loads_when_present() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("sandbox/fixtures/jwt-app-config.json");
        if !path.exists() {
            eprintln!("skipped: {} is not there", path.display());
            return;
        }
        let app = JwtApp::load(&path, None).unwrap();
        assert_eq!(app.client_id, "sandbox-jwt-app");
        assert_eq!(app.public_key_id, "sandbox-jwt-key");
        assert_eq!(app.enterprise_id.as_deref(), Some("1100000"));
    }
}
