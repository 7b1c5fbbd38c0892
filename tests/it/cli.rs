//! `box-mcp config check`: prints the effective configuration, or names the bad key.

use std::process::Command;

use crate::common::Scratch;

fn config_check(env: &[(&str, &str)], file: Option<&std::path::Path>) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_box-mcp"));
    cmd.env_clear();
    if let Some(f) = file {
        cmd.arg("--config").arg(f);
    }
    cmd.args(["config", "check"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn defaults_are_valid_and_printed() {
    let (code, out, _) = config_check(&[], None);
    assert_eq!(code, 0);
    assert!(
        out.contains("issuer = \"http://127.0.0.1:8080/realms/box-mcp\""),
        "{out}"
    );
    assert!(out.contains("leeway = \"30s\""), "{out}");
}

#[test]
fn file_then_environment_layers_apply_in_order() {
    let dir = Scratch::new();
    let file = dir.path("box-mcp.toml");
    std::fs::write(
        &file,
        "public_base_url = \"https://mcp.example.com\"\n[auth]\nissuer = \"https://idp.example.com/realms/x\"\nleeway = \"10s\"\n",
    )
    .unwrap();
    let (code, out, err) = config_check(&[("BOX_MCP_AUTH__LEEWAY", "5s")], Some(&file));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("issuer = \"https://idp.example.com/realms/x\""),
        "{out}"
    );
    assert!(
        out.contains("leeway = \"5s\""),
        "environment wins over the file: {out}"
    );
    assert!(
        out.contains("public_base_url = \"https://mcp.example.com\""),
        "{out}"
    );
}

#[test]
fn invalid_values_exit_non_zero_naming_the_key() {
    for (env, key) in [
        (("BOX_MCP_AUTH__LEEWAY", "soon"), "LEEWAY"),
        (
            ("BOX_MCP_AUTH__ALGORITHMS", r#"["HS256"]"#),
            "auth.algorithms",
        ),
        (("BOX_MCP_AUTH__ISSUER", "not a url"), "auth.issuer"),
        (("BOX_MCP_LISTEN", "localhost"), "listen"),
        (("BOX_MCP_HTTP__MAX_BODY_BYTES", "0"), "http.max_body_bytes"),
        (
            ("BOX_MCP_AUTH__REQUIRED_SCOPES", r#"["bad scope"]"#),
            "required_scopes",
        ),
        // Plain http off loopback: the token would cross the network in clear.
        (
            ("BOX_MCP_PUBLIC_BASE_URL", "http://mcp.example.com"),
            "public_base_url",
        ),
        (
            (
                "BOX_MCP_AUTH__ISSUER",
                "http://idp.example.com/realms/box-mcp",
            ),
            "auth.issuer",
        ),
        (("BOX_MCP_LISTEN", "0.0.0.0:8000"), "public_base_url"),
    ] {
        let (code, _, err) = config_check(&[env], None);
        assert_eq!(code, 2, "{env:?}");
        assert!(err.contains(key), "{env:?}: {err}");
    }
}

#[test]
fn unknown_keys_and_missing_files_are_errors() {
    let dir = Scratch::new();
    let file = dir.path("typo.toml");
    std::fs::write(&file, "[auth]\nisuer = \"https://idp\"\n").unwrap();
    let (code, _, err) = config_check(&[], Some(&file));
    assert_eq!(code, 2);
    assert!(err.contains("isuer"), "{err}");
    let (code, _, err) = config_check(&[], Some(&dir.path("absent.toml")));
    assert_eq!(code, 2);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn prefixed_variables_that_are_not_configuration_are_ignored() {
    let dir = Scratch::new();
    let file = dir.path("box-mcp.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:9001\"\n").unwrap();
    let file_str = file.to_str().unwrap();
    let (code, out, err) = config_check(
        &[
            ("BOX_MCP_CONFIG", file_str),
            ("BOX_MCP_CACHE", "/tmp/cache"),
            ("BOX_MCP_PORT", "8000"),
            ("BOX_MCP_RESOURCE_URL", "http://127.0.0.1:1/mcp"),
            ("BOX_MCP_TEST_KEYCLOAK_URL", "http://127.0.0.1:2"),
            ("BOX_MCP_DEMO_BOX", "linked"),
            ("BOX_MCP_BOX_TOKEN_URL", "http://127.0.0.1:3/oauth2/token"),
            ("BOX_MCP_BOX_MIN_VALIDITY", "5"),
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("listen = \"127.0.0.1:9001\""),
        "BOX_MCP_CONFIG names the file: {out}"
    );
    // A typo is still an error.
    let (code, _, err) = config_check(&[("BOX_MCP_AUTH_ISSUER", "https://idp")], None);
    assert_eq!(code, 2);
    assert!(err.contains("auth_issuer"), "{err}");
}

/// Security invariant: the shipped build cannot be configured to skip
/// authentication; only a benchmark build (`--features insecure-no-auth`) can,
/// and only on loopback.
#[test]
fn the_shipped_build_refuses_to_turn_authentication_off() {
    for (listen, expected) in [
        ("127.0.0.1:8000", "insecure-no-auth"),
        ("0.0.0.0:8000", "loopback"),
    ] {
        let (code, out, err) = config_check(
            &[
                ("BOX_MCP_AUTH__INSECURE_DISABLED", "true"),
                ("BOX_MCP_LISTEN", listen),
                ("BOX_MCP_PUBLIC_BASE_URL", "https://mcp.example.com"),
            ],
            None,
        );
        assert_eq!(code, 2, "{listen}: {out}");
        assert!(
            err.contains("auth.insecure_disabled") && err.contains(expected),
            "{listen}: {err}"
        );
    }
}
