//! The shipped policy (`policies/`) against this server's own tools: what each
//! realm role sees, that cached decisions equal fresh ones over every tool, and
//! the shipped table of expected decisions. (The policy engine's own tests are
//! in `crate::authz`.)

use std::sync::Arc;

use super::catalog;
use crate::{
    auth::Principal,
    authz::{
        Action, Authorizer, principal_subjects, run_table,
        tests::{principal, shipped},
    },
};

fn shipped_authorizer() -> Arc<Authorizer> {
    Authorizer::load(
        &shipped("model.conf"),
        &shipped("policy.csv"),
        1000,
        catalog::policy_tools(),
    )
    .unwrap()
}

#[test]
fn shipped_policy_by_role() {
    let a = shipped_authorizer();
    let tools = catalog::ALL;
    let count = |p: &Principal| {
        let d = a.for_principal(p);
        tools.iter().filter(|t| d.allows(t.name, t.action)).count()
    };
    let reads = tools.iter().filter(|t| t.action == Action::Read).count();
    let writes = tools.iter().filter(|t| t.action == Action::Write).count();

    // Keycloak's alice: composite roles, her group as the realm sends it, and
    // the realm's default roles.
    let alice = principal(
        &[
            "default-roles-box-mcp",
            "offline_access",
            "mcp-admin",
            "mcp-editor",
            "mcp-viewer",
        ],
        &["mcp-admins"],
        Some("alice"),
    );
    assert_eq!(count(&alice), tools.len());
    assert_eq!(count(&principal(&["mcp-admin"], &[], None)), tools.len());
    assert_eq!(count(&principal(&[], &["/mcp-admins"], None)), tools.len());
    assert_eq!(
        count(&principal(&["mcp-editor"], &[], None)),
        reads + writes
    );
    // bob: an editor without shared links.
    assert_eq!(
        count(&principal(&["mcp-editor"], &[], Some("bob"))),
        reads + writes - 1
    );
    assert_eq!(count(&principal(&["mcp-viewer"], &[], None)), reads);
    // carol: a viewer who may also set metadata.
    assert_eq!(
        count(&principal(&["mcp-viewer"], &[], Some("carol"))),
        reads + 1
    );
    // dave: no MCP role, nothing.
    let dave = principal(
        &["default-roles-box-mcp", "offline_access"],
        &[],
        Some("dave"),
    );
    assert_eq!(count(&dave), 0);
    let d = a.decide(&dave, "whoami", Action::Read);
    assert!(!d.allowed);
    assert_eq!(d.rule, None);
    assert!(d.subjects.is_empty());
}

#[test]
fn cached_decisions_equal_uncached_ones_and_are_shared() {
    let a = shipped_authorizer();
    let callers = [
        principal(&["mcp-viewer"], &[], Some("u1")),
        principal(&["mcp-viewer"], &[], Some("u2")),
        principal(&["mcp-editor"], &[], Some("bob")),
        principal(&["mcp-viewer"], &[], Some("carol")),
        principal(&[], &["mcp-admins"], None),
        principal(&[], &[], None),
    ];
    for _ in 0..3 {
        for caller in &callers {
            for tool in catalog::ALL {
                let cached = a.decide(caller, tool.name, tool.action);
                let fresh = a.decide_uncached(principal_subjects(caller), tool.name, tool.action);
                assert_eq!(cached, fresh, "{caller:?} {}", tool.name);
            }
        }
    }
    // u1 and u2 have the same policy subjects and share entries: 5 distinct
    // subject sets, not 6.
    assert_eq!(a.status().cached_decisions, 5 * catalog::ALL.len() as u64);
}

#[test]
fn shipped_table_passes_and_a_wrong_expectation_fails() {
    let a = shipped_authorizer();
    let report = run_table(&a, &shipped("tests.csv")).unwrap();
    assert!(report.passed(), "{report}");
    assert!(report.cases > 40);

    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let table = write(
        "t.csv",
        "subjects;tool;expected\nrole:mcp-viewer;box_file_get;allow\nrole:mcp-viewer;box_file_delete;allow\n",
    );
    let report = run_table(&a, &table).unwrap();
    assert_eq!(report.cases, 2);
    assert_eq!(report.failures.len(), 1);
    let text = report.to_string();
    assert!(text.contains("t.csv:3"), "{text}");
    assert!(text.contains("- expected: allow"), "{text}");
    assert!(text.contains("+ got:      deny"), "{text}");

    for (row, message) in [
        ("role:a;box_file_get", "3 columns"),
        ("mcp-viewer;box_file_get;allow", "not a subject"),
        ("role:a;box_nope;allow", "box_nope@read"),
        ("role:a;box_nope@run;allow", "unknown action"),
        ("role:a;box_file_get;yes", "`allow` or `deny`"),
    ] {
        let table = write("bad.csv", row);
        let e = run_table(&a, &table).unwrap_err();
        assert_eq!(e.line, Some(1), "{e}");
        assert!(e.message.contains(message), "{row}: {e}");
    }
}
