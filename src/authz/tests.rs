//! Unit tests of the tool policy: the shipped files, decisions, the cache, and
//! every kind of load error. The tests of the shipped policy against this
//! server's own tools are in `crate::mcp::tools::policy_tests`.

use std::path::{Path, PathBuf};

use super::*;

/// A directory that is removed when dropped.
struct TempDir(tempfile::TempDir);

impl TempDir {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// Tools as a server hands them to the policy: a few of each action, named as
/// box-mcp's own (the shipped policy's lines name some of them).
fn tools() -> ToolList {
    ToolList::new(
        [
            ("whoami", Action::Read),
            ("box_file_get", Action::Read),
            ("box_folder_get", Action::Read),
            ("box_ai_ask", Action::Read),
            ("box_file_upload", Action::Write),
            ("box_metadata_set", Action::Write),
            ("box_shared_link_set", Action::Write),
            ("box_file_delete", Action::Delete),
        ]
        .map(|(name, action)| PolicyTool::new(name, action)),
    )
}

/// A file of the shipped policy (`policies/`).
pub(crate) fn shipped(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("policies")
        .join(file)
}

fn shipped_authorizer() -> Arc<Authorizer> {
    Authorizer::load(
        &shipped("model.conf"),
        &shipped("policy.csv"),
        1000,
        tools(),
    )
    .unwrap()
}

const MODEL: &str = include_str!("../../policies/model.conf");

/// An authorizer over the shipped model and `policy`.
fn with_policy(policy: &str) -> (TempDir, Result<Arc<Authorizer>, PolicyError>) {
    with_files(MODEL, policy)
}

fn with_files(model: &str, policy: &str) -> (TempDir, Result<Arc<Authorizer>, PolicyError>) {
    let dir = TempDir::new();
    let m = dir.write("model.conf", model);
    let p = dir.write("policy.csv", policy);
    let a = Authorizer::load(&m, &p, 100, tools());
    (dir, a)
}

/// A caller with these roles, groups and username (also used by the shipped-policy
/// tests in `crate::mcp::tools::policy_tests`).
pub(crate) fn principal(roles: &[&str], groups: &[&str], username: Option<&str>) -> Principal {
    Principal {
        issuer: "https://idp".into(),
        subject: "3f1c-subject".into(),
        username: username.map(String::from),
        email: None,
        email_verified: false,
        client_id: None,
        roles: roles.iter().map(|s| s.to_string()).collect(),
        groups: groups.iter().map(|s| s.to_string()).collect(),
        scopes: vec!["mcp:tools".into()],
        box_user_id: None,
        valid_until: 0,
        bound_key: None,
    }
}

fn subjects(list: &[&'static str]) -> Vec<Subject<'static>> {
    list.iter().map(|s| Subject::parse(s).unwrap()).collect()
}

fn allowed(a: &Authorizer, list: &[&'static str], tool: &str, action: Action) -> bool {
    a.decide_subjects(subjects(list), tool, action).allowed
}

#[test]
fn decision_names_the_rule_and_the_subjects() {
    let a = shipped_authorizer();
    let viewer = principal(&["mcp-viewer", "offline_access"], &[], Some("zoe"));
    let d = a.decide(&viewer, "box_file_get", Action::Read);
    assert!(d.allowed);
    assert_eq!(
        d.rule.as_deref(),
        Some("p, role:mcp-viewer, *, read, allow")
    );
    let line = include_str!("../../policies/policy.csv")
        .lines()
        .position(|l| l == "p, role:mcp-viewer, *, read, allow")
        .unwrap()
        + 1;
    assert_eq!(d.line, Some(line));
    assert_eq!(&*d.subjects, ["role:mcp-viewer".to_string()]);
    assert_eq!(d.generation, 1);
    assert_eq!(
        d.to_string(),
        format!("allow by line {line}: p, role:mcp-viewer, *, read, allow")
    );

    let bob = principal(&["mcp-admin"], &[], Some("bob"));
    let d = a.decide(&bob, "box_shared_link_set", Action::Write);
    assert!(!d.allowed, "deny wins over the admin's allow");
    assert_eq!(
        d.rule.as_deref(),
        Some("p, user:bob, box_shared_link_set, *, deny")
    );
    assert_eq!(
        &*d.subjects,
        ["role:mcp-admin".to_string(), "user:bob".to_string()]
    );
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["allowed"], false);
    assert_eq!(json["rule"], "p, user:bob, box_shared_link_set, *, deny");
    assert_eq!(json["subjects"][1], "user:bob");
}

#[test]
fn subject_order_and_repeats_do_not_matter() {
    let a = shipped_authorizer();
    let one = a.decide_subjects(
        subjects(&["user:bob", "role:mcp-editor", "role:mcp-editor"]),
        "box_shared_link_set",
        Action::Write,
    );
    let two = a.decide_subjects(
        subjects(&["role:mcp-editor", "user:bob"]),
        "box_shared_link_set",
        Action::Write,
    );
    assert_eq!(one, two);
    assert!(!one.allowed);
}

#[test]
fn kinds_are_distinct() {
    let a = shipped_authorizer();
    // A user named like a role is not that role.
    assert!(!allowed(
        &a,
        &["user:mcp-admin"],
        "box_file_get",
        Action::Read
    ));
    assert!(!allowed(
        &a,
        &["group:mcp-admin"],
        "box_file_get",
        Action::Read
    ));
    assert!(!allowed(
        &a,
        &["sub:mcp-admin"],
        "box_file_get",
        Action::Read
    ));
    // A subject value cannot smuggle another subject in.
    assert!(!allowed(
        &a,
        &["role:x\nrole:mcp-admin"],
        "box_file_get",
        Action::Read
    ));
}

#[test]
fn patterns_actions_and_sub_exceptions() {
    let (_dir, a) = with_policy(
        "p, role:r, box_file_*, *, allow\n\
         p, role:r, box_*_delete, delete, deny\n\
         p, role:r, box_ai_?sk, read, allow\n\
         p, sub:s-1, box_file_delete, delete, allow\n\
         p, role:w, *, write, allow\n",
    );
    let a = a.unwrap();
    assert!(allowed(&a, &["role:r"], "box_file_get", Action::Read));
    assert!(allowed(&a, &["role:r"], "box_file_upload", Action::Write));
    assert!(!allowed(&a, &["role:r"], "box_file_delete", Action::Delete));
    assert!(!allowed(
        &a,
        &["role:r", "sub:s-1"],
        "box_file_delete",
        Action::Delete
    ));
    assert!(allowed(&a, &["sub:s-1"], "box_file_delete", Action::Delete));
    assert!(allowed(&a, &["role:r"], "box_ai_ask", Action::Read));
    assert!(!allowed(&a, &["role:r"], "box_ai_ask", Action::Write));
    assert!(!allowed(&a, &["role:r"], "box_folder_get", Action::Read));
    assert!(allowed(&a, &["role:w"], "anything", Action::Write));
    assert!(!allowed(&a, &["role:w"], "anything", Action::Read));
}

#[test]
fn other_effects_report_their_deciding_line() {
    let model = MODEL.replace(
        "e = some(where (p.eft == allow)) && !some(where (p.eft == deny))",
        "e = priority(p.eft) || deny",
    );
    let (_dir, a) = with_files(
        &model,
        "p, user:u, box_file_delete, *, allow\np, role:r, *, *, deny\np, role:r, *, read, allow\n",
    );
    let a = a.unwrap();
    let d = a.decide_subjects(
        subjects(&["role:r", "user:u"]),
        "box_file_delete",
        Action::Delete,
    );
    assert!(d.allowed);
    assert_eq!(d.line, Some(1));
    let d = a.decide_subjects(subjects(&["role:r"]), "box_file_get", Action::Read);
    assert!(!d.allowed);
    assert_eq!(d.line, Some(2));
}

#[test]
fn an_empty_policy_denies_everything() {
    let (_dir, a) = with_policy("# nothing yet\n");
    let a = a.unwrap();
    let d = a.decide_subjects(subjects(&["role:mcp-admin"]), "whoami", Action::Read);
    assert!(!d.allowed);
    assert_eq!(d.rule, None);
}

fn policy_error(policy: &str) -> PolicyError {
    let (_dir, a) = with_policy(policy);
    match a {
        Ok(_) => panic!("loaded: {policy}"),
        Err(e) => e,
    }
}

#[test]
fn policy_errors_name_the_file_and_line() {
    for (policy, line, message) in [
        ("p, role:a, box_[ab], read, allow", 1, "only `*` and `?`"),
        ("p, role:a, box_{a,b}, read, allow", 1, "4 fields after `p`"),
        ("# c\n\np, mcp-viewer, *, read, allow", 3, "not a subject"),
        (
            "p, role:a, *, execute, allow",
            1,
            "unknown action `execute`",
        ),
        ("p, role:a, *, read, permit", 1, "unknown effect `permit`"),
        ("p, role:a, *, read", 1, "this one has 3"),
        ("p, role:a, *, read, allow, extra", 1, "this one has 5"),
        ("g, role:a", 1, "2 fields after `g`"),
        ("p, role:a, , read, allow", 1, "field 3 is empty"),
        ("x, role:a, *, read, allow", 1, "unknown line type `x`"),
        ("p, \"role:a\", *, read, allow", 1, "quotes"),
        ("g, role:a, user:b", 1, "cannot be granted"),
        ("g, role:a, role:a", 1, "cycle"),
        (
            "g, role:a, role:b\ng, role:b, role:c\ng, role:c, role:a",
            3,
            "cycle",
        ),
        ("p, role:a, *, read, allow\u{7}", 1, "control character"),
        ("p, role:, *, read, allow", 1, "not a subject"),
    ] {
        let e = policy_error(policy);
        assert_eq!(e.line, Some(line), "{policy}: {e}");
        assert!(e.file.ends_with("policy.csv"), "{e}");
        assert!(e.message.contains(message), "{policy}: {e}");
        assert!(
            e.to_string().contains(&format!("policy.csv:{line}: ")),
            "{e}"
        );
    }
}

fn model_error(model: &str) -> PolicyError {
    let (_dir, a) = with_files(model, "p, role:a, *, read, allow\n");
    match a {
        Ok(_) => panic!("loaded: {model}"),
        Err(e) => e,
    }
}

#[test]
fn model_errors_name_the_file_and_line() {
    let swap = |from: &str, to: &str| {
        assert!(MODEL.contains(from), "{from}");
        MODEL.replace(from, to)
    };
    let line_of = |needle: &str| MODEL.lines().position(|l| l.contains(needle)).unwrap() + 1;
    for (model, line, message) in [
        (
            swap("r = sub, obj, act", "r = sub, obj"),
            Some(line_of("r = sub")),
            "request definition",
        ),
        (
            swap("p = sub, obj, act, eft", "p = sub, obj, act"),
            Some(line_of("p = sub")),
            "policy definition",
        ),
        (
            swap("g = _, _", "g = _, _, _"),
            Some(line_of("g = _")),
            "role definition",
        ),
        (
            swap(
                "some(where (p.eft == allow)) && !some(where (p.eft == deny))",
                "some(where(p.eft == allow))",
            ),
            Some(line_of("e = some")),
            "unsupported policy effect",
        ),
        (
            swap("g(r.sub, p.sub) && ", "r.sub == p.sub && "),
            Some(line_of("m = ")),
            "g(r.sub, p.sub)",
        ),
        (
            swap(
                "g(r.sub, p.sub) && ",
                "g(r.sub, p.sub) && r.sub != \"x\" && ",
            ),
            Some(line_of("m = ")),
            "g(r.sub, p.sub)",
        ),
        (
            swap("globMatch(r.obj, p.obj)", "noSuchFunction(r.obj, p.obj)"),
            Some(line_of("m = ")),
            "the matcher fails",
        ),
        (
            swap("[matchers]", "[matchers]\nm2 = true"),
            Some(line_of("[matchers]") + 1),
            "takes only `m",
        ),
        (
            swap("g = _, _", "g = _, _\ng2 = _, _"),
            Some(line_of("g = _") + 1),
            "takes only `g",
        ),
        (
            swap("[request_definition]", "[requests]"),
            Some(line_of("r = sub")),
            "outside the sections",
        ),
        (swap("g = _, _", ""), None, "no `g = …`"),
    ] {
        let e = model_error(&model);
        assert_eq!(e.line, line, "{e}");
        assert!(e.file.ends_with("model.conf"), "{e}");
        assert!(e.message.contains(message), "{e}");
    }
}

#[test]
fn regex_matchers_have_their_patterns_checked() {
    let model = MODEL.replace("globMatch(r.obj, p.obj)", "regexMatch(r.obj, p.obj)");
    let (_dir, a) = with_files(&model, "p, role:a, ^box_file_.*$, read, allow\n");
    let a = a.unwrap();
    assert!(allowed(&a, &["role:a"], "box_file_get", Action::Read));
    assert!(!allowed(&a, &["role:a"], "box_folder_get", Action::Read));
    let (_dir, a) = with_files(
        &model,
        "p, role:a, *, read, allow\np, role:a, box_(, read, allow\n",
    );
    let e = a.err().unwrap();
    assert_eq!(e.line, Some(1), "{e}");
    assert!(e.message.contains("bad regex"), "{e}");
}

#[test]
fn missing_files_are_errors() {
    let dir = TempDir::new();
    let m = dir.write("model.conf", MODEL);
    let e = Authorizer::load(&m, &dir.path().join("nope.csv"), 10, tools())
        .err()
        .unwrap();
    assert!(e.file.ends_with("nope.csv"));
    assert!(e.message.contains("cannot read"), "{e}");
}

#[test]
fn warnings_for_repeats_and_patterns_that_match_no_tool() {
    let (_dir, a) = with_policy(
        "p, role:a, *, read, allow\np, role:a, *, read, allow\np, role:a, box_files_*, read, allow\n",
    );
    let status = a.unwrap().status();
    assert_eq!(status.warnings.len(), 2, "{:?}", status.warnings);
    assert!(status.warnings[0].ends_with("policy.csv:2: repeats line 1"));
    assert!(status.warnings[1].contains("`box_files_*` matches none"));
    assert_eq!(status.rules, 2);
}

#[test]
fn reload_swaps_and_keeps_the_last_good_policy() {
    let dir = TempDir::new();
    let m = dir.write("model.conf", MODEL);
    let p = dir.write("policy.csv", "p, role:a, *, read, allow\n");
    let a = Authorizer::load(&m, &p, 100, tools()).unwrap();
    assert!(allowed(&a, &["role:a"], "box_file_get", Action::Read));
    let before = a.status();
    assert_eq!(before.generation, 1);
    assert!(before.last_error.is_none());

    std::fs::write(
        &p,
        "p, role:a, *, read, allow\np, role:a, box_file_get, read, deny\n",
    )
    .unwrap();
    assert_eq!(a.reload().unwrap(), 2);
    assert!(!allowed(&a, &["role:a"], "box_file_get", Action::Read));
    assert_eq!(
        a.decide_subjects(subjects(&["role:a"]), "x", Action::Read)
            .generation,
        2
    );

    std::fs::write(
        &p,
        "p, role:a, *, read, allow\np, role:a, box_[x, read, allow\n",
    )
    .unwrap();
    let e = a.reload().unwrap_err();
    assert_eq!(e.line, Some(2));
    let status = a.status();
    assert_eq!(status.generation, 2);
    assert_eq!(status.reload_failures, 1);
    assert_eq!(status.last_error.as_ref().unwrap().line, Some(2));
    assert!(status.last_error_at.is_some());
    assert!(!allowed(&a, &["role:a"], "box_file_get", Action::Read));

    // The watcher's path: same broken files again are not retried.
    assert_eq!(a.reload_if_changed().unwrap(), None);
    assert_eq!(a.status().reload_failures, 1);
    // Back to the files in force: nothing to load, and the error is over.
    std::fs::write(
        &p,
        "p, role:a, *, read, allow\np, role:a, box_file_get, read, deny\n",
    )
    .unwrap();
    assert_eq!(a.reload_if_changed().unwrap(), None);
    assert!(a.status().last_error.is_none());
    std::fs::write(&p, "p, role:a, *, read, allow\n").unwrap();
    assert_eq!(a.reload_if_changed().unwrap(), Some(3));
    assert!(allowed(&a, &["role:a"], "box_file_get", Action::Read));
}

#[test]
fn a_caller_view_keeps_its_generation() {
    let dir = TempDir::new();
    let m = dir.write("model.conf", MODEL);
    let p = dir.write("policy.csv", "p, role:a, *, read, allow\n");
    let a = Authorizer::load(&m, &p, 100, tools()).unwrap();
    let view = a.for_subjects(subjects(&["role:a"]));
    std::fs::write(&p, "p, role:a, *, write, allow\n").unwrap();
    a.reload().unwrap();
    assert!(view.allows("box_file_get", Action::Read));
    assert_eq!(view.generation(), 1);
    assert!(!allowed(&a, &["role:a"], "box_file_get", Action::Read));
}

#[test]
fn tool_arguments() {
    assert_eq!(
        parse_tool("box_file_delete", &tools()).unwrap(),
        ("box_file_delete".to_string(), Action::Delete)
    );
    assert_eq!(
        parse_tool("x@write", &tools()).unwrap(),
        ("x".to_string(), Action::Write)
    );
    assert!(parse_tool("@write", &tools()).is_err());
}

#[test]
fn every_action_is_one_policies_may_name() {
    for action in [Action::Read, Action::Write, Action::Delete] {
        assert!(load::ACTIONS.contains(&action.as_str()));
    }
}

#[test]
fn a_matcher_nested_or_chained_past_the_bounds_is_refused_before_casbin_parses_it() {
    let model = std::fs::read_to_string(shipped("model.conf")).unwrap();
    let policy = std::fs::read_to_string(shipped("policy.csv")).unwrap();
    let matcher_line = model
        .lines()
        .find(|l| l.trim_start().starts_with("m ="))
        .unwrap()
        .to_string();
    for (replacement, expected) in [
        // These overflowed the expression parser's stack and aborted the process.
        (
            format!("{matcher_line} && {}true{}", "(".repeat(40), ")".repeat(40)),
            "deep",
        ),
        (
            format!("{matcher_line} && {}true", "!".repeat(400)),
            "in a row",
        ),
        (
            format!("{matcher_line} && \"{}\" == \"\"", "x".repeat(5000)),
            "bytes",
        ),
    ] {
        let (_dir, result) = with_files(&model.replace(&matcher_line, &replacement), &policy);
        let error = result.err().expect("refused").to_string();
        assert!(error.contains(expected), "{error}");
    }
    // The shipped matcher is well inside the bounds.
    assert!(with_files(&model, &policy).1.is_ok());
}
