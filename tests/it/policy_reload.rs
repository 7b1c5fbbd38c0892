//! Hot reload of the tool policy, through the `Authorizer` API and real files:
//! edits take effect within a second without a restart, broken edits keep the
//! last good policy and are reported with file and line, and no decision ever
//! sees a half-loaded policy.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use box_mcp::{
    authz::{Action, Authorizer, Subject},
    mcp::tools::catalog,
};

use crate::common::Scratch;

const MODEL: &str = include_str!("../../policies/model.conf");
const READERS: &str = "p, role:staff, *, read, allow\n";
const READERS_NO_DOWNLOAD: &str =
    "p, role:staff, *, read, allow\np, role:staff, box_file_download, read, deny\n";

fn setup(policy: &str) -> (Scratch, PathBuf, Arc<Authorizer>) {
    let dir = Scratch::new();
    let model = dir.write("model.conf", MODEL);
    let policy_path = dir.write("policy.csv", policy);
    let authorizer = Authorizer::load(&model, &policy_path, 1000, catalog::policy_tools()).unwrap();
    (dir, policy_path, authorizer)
}

fn staff_may_download(a: &Authorizer) -> bool {
    a.decide_subjects(
        [Subject::parse("role:staff").unwrap()],
        "box_file_download",
        Action::Read,
    )
    .allowed
}

/// Waits up to 5 s for `done`, and returns how long it took.
fn wait_for(what: &str, done: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

/// Writes like an editor that saves atomically: a new file renamed over the old.
fn save_by_rename(path: &Path, text: &str) {
    let tmp = path.with_extension("csv.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn edits_change_decisions_within_a_second() {
    let (_dir, policy, a) = setup(READERS);
    let _watcher = a.spawn_watcher().unwrap();
    // Decide once so that the cache holds the old answer.
    assert!(staff_may_download(&a));

    std::fs::write(&policy, READERS_NO_DOWNLOAD).unwrap();
    let took = wait_for("the in-place edit", || !staff_may_download(&a));
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(a.status().generation, 2);

    save_by_rename(&policy, READERS);
    let took = wait_for("the rename-save", || staff_may_download(&a));
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(a.status().generation, 3);
    assert_eq!(a.status().reload_failures, 0);
}

#[test]
fn broken_edits_keep_the_last_good_policy_and_say_where() {
    let (_dir, policy, a) = setup(READERS_NO_DOWNLOAD);
    let _watcher = a.spawn_watcher().unwrap();
    assert!(!staff_may_download(&a));

    for (broken, line, message) in [
        (
            "p, role:staff, *, read, allow\np, role:staff, box_[x], read, allow\n",
            2,
            "only `*` and `?`",
        ),
        (
            "# a comment\np, role:staff, *, read, allow\nthis is not a policy line\n",
            3,
            "unknown line type",
        ),
        ("p, staff, *, read, allow\n", 1, "not a subject"),
    ] {
        let failures = a.status().reload_failures;
        std::fs::write(&policy, broken).unwrap();
        let took = wait_for("the reload error", || a.status().reload_failures > failures);
        assert!(took < Duration::from_secs(1), "took {took:?}");
        let status = a.status();
        let error = status.last_error.expect("the error is reported");
        assert_eq!(error.line, Some(line), "{error}");
        assert_eq!(error.file, policy.display().to_string());
        assert!(error.message.contains(message), "{error}");
        assert!(
            error
                .to_string()
                .starts_with(&format!("{}:{line}: ", policy.display())),
            "{error}"
        );
        // The last good policy is still in force.
        assert_eq!(status.generation, 1);
        assert!(!staff_may_download(&a));
    }
    let json = serde_json::to_value(a.status()).unwrap();
    assert_eq!(json["last_error"]["line"], 1);
    assert_eq!(json["reload_failures"], 3);

    // Fixed: loads, and the error is over.
    std::fs::write(&policy, READERS).unwrap();
    wait_for("the fixed policy", || staff_may_download(&a));
    let status = a.status();
    assert_eq!(status.generation, 2);
    assert!(status.last_error.is_none());
    assert_eq!(status.reload_failures, 3);
}

#[test]
fn a_broken_model_keeps_the_last_good_policy() {
    let (dir, _policy, a) = setup(READERS);
    let _watcher = a.spawn_watcher().unwrap();
    std::fs::write(
        dir.path("model.conf"),
        MODEL.replace("g(r.sub, p.sub)", "r.sub == p.sub"),
    )
    .unwrap();
    wait_for("the model error", || a.status().last_error.is_some());
    let error = a.status().last_error.unwrap();
    assert!(error.file.ends_with("model.conf"), "{error}");
    assert!(error.line.is_some(), "{error}");
    assert!(staff_may_download(&a));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads() {
    let (_dir, _policy, a) = setup(READERS);
    let watcher = a.spawn_watcher().unwrap();
    assert!(watcher.handles_sighup());
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let a2 = a.clone();
    tokio::task::spawn_blocking(move || wait_for("the SIGHUP reload", || a2.generation() == 2))
        .await
        .unwrap();
}

#[test]
fn no_decision_sees_a_half_loaded_policy() {
    // Generation n holds policy A when n is odd, policy B when it is even; every
    // decision must be the one its own generation gives.
    let (_dir, policy, a) = setup(READERS);
    let stop = Arc::new(AtomicBool::new(false));
    let deciders: Vec<_> = (0..4)
        .map(|i| {
            let (a, stop) = (a.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut checked = 0u64;
                let subjects = [
                    Subject::parse("role:staff").unwrap(),
                    Subject::parse("user:someone").unwrap(),
                ];
                while !stop.load(Ordering::Relaxed) {
                    let d = if i % 2 == 0 {
                        a.decide_subjects(subjects, "box_file_download", Action::Read)
                    } else {
                        a.for_subjects(subjects)
                            .decide("box_file_download", Action::Read)
                    };
                    let expect_allowed = d.generation % 2 == 1;
                    assert_eq!(d.allowed, expect_allowed, "{d:?}");
                    let expected_line = if expect_allowed { 1 } else { 2 };
                    assert_eq!(d.line, Some(expected_line), "{d:?}");
                    checked += 1;
                }
                checked
            })
        })
        .collect();
    for n in 2..=40u64 {
        let text = if n % 2 == 1 {
            READERS
        } else {
            READERS_NO_DOWNLOAD
        };
        std::fs::write(&policy, text).unwrap();
        assert_eq!(a.reload().unwrap(), n);
    }
    stop.store(true, Ordering::Relaxed);
    let checked: u64 = deciders.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(checked > 0);
}

#[test]
fn dropping_the_watcher_stops_reloading() {
    let (_dir, policy, a) = setup(READERS);
    let watcher = a.spawn_watcher().unwrap();
    assert_eq!(watcher.directories().len(), 1);
    drop(watcher);
    std::fs::write(&policy, READERS_NO_DOWNLOAD).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(a.generation(), 1);
    assert!(staff_may_download(&a));
}
