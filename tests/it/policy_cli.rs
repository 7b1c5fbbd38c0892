//! `box-mcp policy …`: the shipped table passes, a wrong expectation fails with
//! a diff, `check` names the deciding line, `tools` lists what a caller sees,
//! and a broken policy is refused with its file and line.

use std::{path::PathBuf, process::Command};

use crate::common::Scratch;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn policy(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_box-mcp"))
        .env_clear()
        .current_dir(root())
        .arg("policy")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_shipped_table_passes() {
    let (code, out, err) = policy(&["test", "policies/tests.csv"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("policies/tests.csv: all"), "{out}");
    assert!(out.contains("cases pass"), "{out}");
    // The table is the default.
    let (code, _, _) = policy(&["test"]);
    assert_eq!(code, 0);
}

#[test]
fn a_wrong_expectation_fails_with_a_diff() {
    let shipped = std::fs::read_to_string(root().join("policies/tests.csv")).unwrap();
    let wrong = format!("{shipped}role:mcp-viewer;box_file_delete;allow\n");
    let wrong_line = wrong.lines().count();
    let scratch = Scratch::new();
    let table = scratch.write("wrong.csv", &wrong);
    let (code, out, err) = policy(&["test", table.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!("FAIL {}:{wrong_line}", table.display())),
        "{out}"
    );
    assert!(out.contains("  subjects: role:mcp-viewer"), "{out}");
    assert!(
        out.contains("  tool:     box_file_delete (delete)"),
        "{out}"
    );
    assert!(out.contains("- expected: allow"), "{out}");
    assert!(
        out.contains("+ got:      deny: no policy line allows it"),
        "{out}"
    );
    assert!(out.contains("1 of"), "{out}");

    // A malformed row is an error (2), not a failure.
    let scratch = Scratch::new();
    let table = scratch.write("malformed.csv", "role:mcp-viewer;box_file_get\n");
    let (code, _, err) = policy(&["test", table.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("malformed.csv:1: expected 3 columns"), "{err}");
}

#[test]
fn check_prints_the_decision_and_the_line() {
    let (code, out, err) = policy(&[
        "check",
        "--role",
        "mcp-viewer",
        "--user",
        "alice",
        "box_file_delete",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("deny box_file_delete (delete)\n"), "{out}");
    assert!(out.contains("no policy line allows it"), "{out}");

    let (code, out, _) = policy(&["check", "--role", "mcp-viewer", "box_file_get"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("allow box_file_get (read)\n"), "{out}");
    let line = std::fs::read_to_string(root().join("policies/policy.csv"))
        .unwrap()
        .lines()
        .position(|l| l == "p, role:mcp-viewer, *, read, allow")
        .unwrap()
        + 1;
    assert!(
        out.contains(&format!(
            "policies/policy.csv:{line}: p, role:mcp-viewer, *, read, allow"
        )),
        "{out}"
    );

    let (_, out, _) = policy(&[
        "check",
        "--group",
        "/mcp-editors",
        "--user",
        "bob",
        "box_shared_link_set",
    ]);
    assert!(
        out.starts_with("deny box_shared_link_set (write)\n"),
        "{out}"
    );
    assert!(
        out.contains("p, user:bob, box_shared_link_set, *, deny"),
        "{out}"
    );

    let (code, _, err) = policy(&["check", "--role", "mcp-viewer", "box_nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("box_nope@read"), "{err}");
    let (_, out, _) = policy(&["check", "--role", "mcp-admin", "box_nope@delete"]);
    assert!(out.starts_with("allow box_nope (delete)"), "{out}");
}

#[test]
fn tools_lists_what_a_role_sees() {
    let (code, out, err) = policy(&["tools", "--role", "mcp-viewer"]);
    assert_eq!(code, 0, "{err}");
    let listed: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert!(listed.contains(&"whoami"), "{out}");
    assert!(listed.contains(&"box_file_get"), "{out}");
    assert!(!listed.contains(&"box_file_upload"), "{out}");
    assert!(!listed.contains(&"box_file_delete"), "{out}");
    assert!(out.lines().all(|l| l.starts_with("allow ")), "{out}");
    assert!(err.contains(" tools for role:mcp-viewer"), "{err}");

    let (_, out, _) = policy(&["tools", "--all"]);
    assert!(out.lines().all(|l| l.starts_with("deny ")), "{out}");
    assert!(out.lines().any(|l| l.contains("whoami")), "{out}");
}

#[test]
fn a_broken_policy_is_refused_with_file_and_line() {
    let scratch = Scratch::new();
    let broken = scratch.write(
        "broken.csv",
        "p, role:mcp-viewer, *, read, allow\np, role:mcp-viewer, box_[ab], read, allow\n",
    );
    let (code, out, err) = policy(&["--policy", broken.to_str().unwrap(), "validate"]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains(&format!("{}:2: ", broken.display())), "{err}");

    let (code, out, err) = policy(&["validate"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("policies/model.conf and policies/policy.csv are valid"),
        "{out}"
    );

    // The configuration's [policy] section names the files.
    let config = scratch.write(
        "box-mcp.toml",
        &format!("[policy]\npolicy = {:?}\n", broken.display().to_string()),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_box-mcp"))
        .env_clear()
        .current_dir(root())
        .args(["--config", config.to_str().unwrap(), "policy", "validate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.csv:2: "));
}
