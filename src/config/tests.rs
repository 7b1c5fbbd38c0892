//! Loading and validating the whole configuration: defaults, keys named in
//! errors, the benchmark switch, and the `[box]` section through `Settings`
//! (what `config check` prints). Each section's own checks are tested next to it.

use super::*;
use crate::{
    auth::INSECURE_NO_AUTH_BUILD,
    broker::{
        BoxMode, BoxPerUserToken, BoxUserMapping,
        config_tests::{ccg, temp_file},
    },
};

fn settings_with(f: impl FnOnce(&mut Config)) -> Result<Settings, ConfigError> {
    let mut c = Config::default();
    f(&mut c);
    Settings::from_config(c)
}

#[test]
fn defaults_are_valid() {
    let s = settings_with(|_| {}).unwrap();
    assert_eq!(s.scopes_supported, vec!["mcp:tools"]);
    assert_eq!(s.claims.roles[0], "realm_access.roles");
}

#[test]
fn hmac_algorithms_are_refused_with_the_key_named() {
    let err = settings_with(|c| c.auth.algorithms = vec!["HS256".into()]).unwrap_err();
    assert!(err.to_string().contains("auth.algorithms"), "{err}");
}

#[test]
fn bad_values_name_their_key() {
    for (key, f) in [
        (
            "listen",
            Box::new(|c: &mut Config| c.listen = "nope".into()) as Box<dyn FnOnce(&mut Config)>,
        ),
        (
            "auth.issuer",
            Box::new(|c: &mut Config| c.auth.issuer = "ftp://x".into()),
        ),
        (
            "public_base_url",
            Box::new(|c: &mut Config| c.public_base_url = "http://h/?q=1".into()),
        ),
        (
            "http.allowed_origins",
            Box::new(|c: &mut Config| c.http.allowed_origins = vec!["http://x/path".into()]),
        ),
        (
            "log.level",
            Box::new(|c: &mut Config| c.log.level = "info,,=[".into()),
        ),
        (
            "auth.tool_error_on_insufficient_scope",
            Box::new(|c: &mut Config| {
                c.auth.tool_error_on_insufficient_scope = vec!["claude-*".into(), "[".into()]
            }),
        ),
    ] {
        let err = settings_with(f).unwrap_err();
        assert!(err.to_string().contains(key), "{key}: {err}");
    }
}

#[test]
fn plain_http_is_refused_off_loopback_unless_the_lab_switch_is_on() {
    for (what, f) in [
        (
            "public_base_url",
            Box::new(|c: &mut Config| c.public_base_url = "http://mcp.example.com".into())
                as Box<dyn Fn(&mut Config)>,
        ),
        (
            "auth.issuer",
            Box::new(|c: &mut Config| c.auth.issuer = "http://idp.example.com/realms/x".into()),
        ),
        (
            "public_base_url",
            // Listening off loopback, the derived URL would be plain http.
            Box::new(|c: &mut Config| c.listen = "0.0.0.0:8000".into()),
        ),
    ] {
        let err = settings_with(&f).unwrap_err().to_string();
        assert!(
            err.contains(what) && err.contains("allow_insecure_http"),
            "{err}"
        );
        settings_with(|c| {
            f(c);
            c.allow_insecure_http = true;
        })
        .unwrap_or_else(|e| panic!("{what} with the lab switch: {e}"));
    }
    // https anywhere, and http to loopback names, need no switch.
    settings_with(|c| {
        c.public_base_url = "https://mcp.example.com".into();
        c.auth.issuer = "https://idp.example.com/realms/x".into();
        c.listen = "0.0.0.0:8000".into();
    })
    .unwrap();
    for host in [
        "localhost:8080",
        "127.0.0.1:8080",
        "[::1]:8080",
        "127.1.2.3",
    ] {
        settings_with(|c| {
            c.public_base_url = format!("http://{host}");
            c.auth.issuer = format!("http://{host}/realms/x");
        })
        .unwrap_or_else(|e| panic!("{host}: {e}"));
    }
    // Off, the switch is not printed by `config check` (its top-level keys).
    let printed = toml::to_string(&Config::default()).unwrap();
    let top_level = printed.split("\n[").next().unwrap();
    assert!(!top_level.contains("allow_insecure_http"), "{printed}");
}

#[test]
fn authentication_cannot_be_turned_off_away_from_loopback() {
    let err = settings_with(|c| {
        c.listen = "0.0.0.0:8000".into();
        c.auth.insecure_disabled = true;
    })
    .unwrap_err();
    assert!(err.to_string().contains("loopback"), "{err}");
}

#[test]
fn authentication_can_be_turned_off_only_in_a_benchmark_build() {
    let result = settings_with(|c| c.auth.insecure_disabled = true);
    if INSECURE_NO_AUTH_BUILD {
        assert!(result.is_ok());
    } else {
        let err = result.unwrap_err().to_string();
        assert!(
            err.contains("auth.insecure_disabled") && err.contains("insecure-no-auth"),
            "{err}"
        );
    }
}

#[test]
fn the_benchmark_switch_is_not_printed_when_off() {
    let printed = toml::to_string(&Config::default()).unwrap();
    assert!(!printed.contains("insecure_disabled"), "{printed}");
}

#[test]
fn settings_refuse_a_bad_box_section_naming_the_key() {
    let mut raw = Config::default();
    raw.r#box.mode = BoxMode::Service;
    let err = Settings::from_config(raw).unwrap_err().to_string();
    assert!(err.contains("box.client_id"), "{err}");
}

#[test]
fn secrets_are_redacted_in_config_check_output() {
    let raw = Config {
        r#box: BoxConfig {
            jwt_passphrase: Some("passphrase-value".into()),
            ..ccg()
        },
        ..Default::default()
    };
    let text = Settings::from_config(raw).unwrap().redacted_toml();
    assert!(text.contains("[box]"), "{text}");
    assert!(text.contains("client_secret = \"[redacted]\""), "{text}");
    assert!(text.contains("jwt_passphrase = \"[redacted]\""), "{text}");
    assert!(!text.contains("very-secret-value"), "{text}");
    assert!(!text.contains("passphrase-value"), "{text}");
    assert!(text.contains("client_id = \"cid\""), "{text}");
}

#[test]
fn box_section_loads_from_toml_and_env_style_numbers() {
    let file = temp_file(
        "box-mcp.toml",
        r#"
[box]
mode = "per_user"
auth = "ccg"
client_id = 123456
client_secret = 987654
enterprise_id = 1100000
user_mapping = "email"
per_user_token = "as_user"
timeout = "3s"
expiry_margin = "2m"
"#,
    );
    let raw = Config::load(Some(file.path())).unwrap();
    let c = &raw.r#box;
    assert_eq!(c.mode, BoxMode::PerUser);
    assert_eq!(c.client_id.as_deref(), Some("123456"));
    assert_eq!(c.enterprise_id.as_deref(), Some("1100000"));
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(c.client_secret.as_ref().unwrap()),
        "987654"
    );
    assert_eq!(c.user_mapping, BoxUserMapping::Email);
    assert_eq!(c.per_user_token, BoxPerUserToken::AsUser);
    assert_eq!(c.timeout, std::time::Duration::from_secs(3));
    Settings::from_config(raw).unwrap();
}

#[test]
fn unknown_box_keys_are_refused() {
    let file = temp_file("box-mcp.toml", "[box]\nclient_secrte = \"x\"\n");
    let err = Config::load(Some(file.path())).unwrap_err().to_string();
    assert!(err.contains("client_secrte"), "{err}");
}

#[test]
fn linked_accounts_take_their_urls_from_the_issuer_and_redact_the_secret() {
    let file = temp_file(
        "box-mcp.toml",
        r#"
[auth]
issuer = "http://127.0.0.1:8080/realms/box-mcp"

[box]
mode = "per_user"
per_user_token = "linked"

[box.linked]
client_id = "box-mcp"
client_secret = "linked-secret-value"
cache_ttl = "30s"
"#,
    );
    let raw = Config::load(Some(file.path())).unwrap();
    let settings = Settings::from_config(raw).unwrap();
    assert!(settings.box_plan.uses_linked_accounts());
    let text = settings.redacted_toml();
    assert!(text.contains("[box.linked]"), "{text}");
    assert!(text.contains("client_secret = \"[redacted]\""), "{text}");
    assert!(!text.contains("linked-secret-value"), "{text}");

    // Without the client secret the error names the key.
    let mut raw = Config::load(Some(file.path())).unwrap();
    raw.r#box.linked.client_secret = None;
    let err = Settings::from_config(raw).unwrap_err().to_string();
    assert!(err.contains("box.linked.client_secret"), "{err}");
}
