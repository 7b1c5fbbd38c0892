//! `[box]` configuration: defaults, checks naming the key, and redaction.

use std::io::Write;

use super::{
    BoxAuth, BoxConfig, BoxMode, BoxPerUserToken, BoxUserMapping,
    jwt::tests::{app_json, box_style_encrypted_pem},
};

pub(crate) fn ccg() -> BoxConfig {
    BoxConfig {
        mode: BoxMode::Service,
        auth: BoxAuth::Ccg,
        client_id: Some("cid".into()),
        client_secret: Some("very-secret-value".into()),
        enterprise_id: Some("1100000".into()),
        ..Default::default()
    }
}

fn invalid_key(c: &BoxConfig) -> String {
    c.validate().unwrap_err().key
}

/// A file named `name` holding `content`; removed (with its directory) on drop.
pub(crate) struct TempFile {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl TempFile {
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }
}

pub(crate) fn temp_file(name: &str, content: &str) -> TempFile {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(content.as_bytes())
        .unwrap();
    TempFile { _dir: dir, path }
}

#[test]
fn default_is_disabled_and_valid() {
    let c = BoxConfig::default();
    assert_eq!(c.mode, BoxMode::Disabled);
    assert_eq!(c.api_base_url, "https://api.box.com/2.0");
    assert_eq!(c.upload_base_url, "https://upload.box.com/api/2.0");
    assert_eq!(c.token_url, "https://api.box.com/oauth2/token");
    assert_eq!(c.revoke_url, "https://api.box.com/oauth2/revoke");
    c.validate().unwrap();
}

#[test]
fn ccg_needs_id_secret_and_enterprise() {
    ccg().validate().unwrap();
    let mut c = ccg();
    c.client_id = None;
    assert_eq!(invalid_key(&c), "box.client_id");
    let mut c = ccg();
    c.client_secret = Some("".into());
    assert_eq!(invalid_key(&c), "box.client_secret");
    let mut c = ccg();
    c.enterprise_id = None;
    assert_eq!(invalid_key(&c), "box.enterprise_id");
    let mut c = ccg();
    c.enterprise_id = Some("ent-1".into());
    assert_eq!(invalid_key(&c), "box.enterprise_id");
}

#[test]
fn per_user_with_claim_and_user_tokens_needs_no_enterprise() {
    let mut c = ccg();
    c.mode = BoxMode::PerUser;
    c.enterprise_id = None;
    c.validate().unwrap();
    c.per_user_token = BoxPerUserToken::AsUser;
    assert_eq!(invalid_key(&c), "box.enterprise_id");
    c.per_user_token = BoxPerUserToken::UserToken;
    c.user_mapping = BoxUserMapping::Email;
    assert_eq!(invalid_key(&c), "box.enterprise_id");
}

#[test]
fn mapping_file_is_required_and_checked() {
    let mut c = ccg();
    c.mode = BoxMode::PerUser;
    c.user_mapping = BoxUserMapping::File;
    assert_eq!(invalid_key(&c), "box.mapping_file");
    let bad = temp_file("map.toml", "[subjects]\ns = \"abc\"\n");
    c.mapping_file = Some(bad.path().to_path_buf());
    assert_eq!(invalid_key(&c), "box.mapping_file");
    let good = temp_file("map.json", r#"{"subjects": {"s": "31000001"}}"#);
    c.mapping_file = Some(good.path().to_path_buf());
    c.validate().unwrap();
    c.mapping_file = Some("/nonexistent/map.toml".into());
    assert_eq!(invalid_key(&c), "box.mapping_file");
}

#[test]
fn jwt_config_file_is_read_and_decrypted_at_load() {
    let mut c = BoxConfig {
        mode: BoxMode::Service,
        auth: BoxAuth::Jwt,
        ..Default::default()
    };
    assert_eq!(invalid_key(&c), "box.jwt_config_file");
    c.jwt_config_file = Some("/nonexistent/config.json".into());
    assert_eq!(invalid_key(&c), "box.jwt_config_file");

    let file = temp_file(
        "config.json",
        &app_json(&box_style_encrypted_pem("pass"), "wrong"),
    );
    c.jwt_config_file = Some(file.path().to_path_buf());
    let err = c.validate().unwrap_err().to_string();
    assert!(
        err.contains("box.jwt_config_file") && err.contains("decrypt"),
        "{err}"
    );
    c.jwt_passphrase = Some("pass".into());
    c.validate().unwrap(); // enterprise id from the file's enterpriseID
    c.jwt_passphrase = Some("nope".into());
    assert_eq!(invalid_key(&c), "box.jwt_passphrase");
}

#[test]
fn urls_must_be_https_except_loopback() {
    let mut c = ccg();
    c.token_url = "http://box.example.com/oauth2/token".into();
    assert_eq!(invalid_key(&c), "box.token_url");
    c.allow_insecure_http = true;
    c.validate().unwrap();
    let mut c = ccg();
    c.api_base_url = "http://127.0.0.1:9000/2.0".into();
    c.validate().unwrap();
    c.upload_base_url = "ftp://x/".into();
    assert_eq!(invalid_key(&c), "box.upload_base_url");
    let mut c = ccg();
    c.revoke_url = "https://u:p@api.box.com/oauth2/revoke".into();
    assert_eq!(invalid_key(&c), "box.revoke_url");
}

#[test]
fn numbers_and_durations_are_bounded() {
    let mut c = ccg();
    c.token_max_attempts = 0;
    assert_eq!(invalid_key(&c), "box.token_max_attempts");
    let mut c = ccg();
    c.cache_capacity = 0;
    assert_eq!(invalid_key(&c), "box.cache_capacity");
    let mut c = ccg();
    c.timeout = std::time::Duration::ZERO;
    assert_eq!(invalid_key(&c), "box.timeout");
    let mut c = ccg();
    c.token_retry_max_elapsed = std::time::Duration::ZERO;
    assert_eq!(invalid_key(&c), "box.token_retry_max_elapsed");
}
