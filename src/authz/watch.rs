//! Reloading the policy when its files change, and on SIGHUP.
//!
//! The directories holding the files are watched, not the files: editors save by
//! writing a new file and renaming it over the old one, and Kubernetes swaps a
//! `..data` symlink, neither of which a watch on the old file would see. Any
//! event there starts a 100 ms quiet period (at most a second while events keep
//! coming); then both files are read, and the policy is reloaded only if they
//! differ from the one in force (or from the last broken version seen). A SIGHUP
//! reloads unconditionally.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::{Arc, Weak, mpsc},
    thread,
    time::{Duration, Instant},
};

use notify::{
    EventKind, RecommendedWatcher, RecursiveMode, Watcher,
    event::{AccessKind, AccessMode},
};

use super::{Authorizer, PolicyError};

const QUIET: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Files,
    Signal,
}

/// Watches the policy files while it lives (see [`Authorizer::spawn_watcher`]).
pub struct PolicyWatcher {
    watcher: Option<RecommendedWatcher>,
    signal_task: Option<tokio::task::JoinHandle<()>>,
    directories: Vec<PathBuf>,
}

impl PolicyWatcher {
    /// The directories being watched.
    pub fn directories(&self) -> &[PathBuf] {
        &self.directories
    }

    /// Whether SIGHUP reloads the policy (only when started inside a Tokio runtime).
    pub fn handles_sighup(&self) -> bool {
        self.signal_task.is_some()
    }
}

impl Drop for PolicyWatcher {
    fn drop(&mut self) {
        if let Some(task) = self.signal_task.take() {
            task.abort();
        }
        // Dropping the watcher drops its sender; the reload thread then ends.
        self.watcher.take();
    }
}

fn directory_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

pub(crate) fn spawn(authorizer: &Arc<Authorizer>) -> Result<PolicyWatcher, PolicyError> {
    let (tx, rx) = mpsc::channel::<Trigger>();
    let files_tx = tx.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        match event {
            // Reads (ours included) are not changes; a finished write is.
            Ok(event)
                if matches!(event.kind, EventKind::Access(kind) if kind != AccessKind::Close(AccessMode::Write)) => {}
            Ok(_) => {
                let _ = files_tx.send(Trigger::Files);
            }
            Err(e) => tracing::warn!(error = %e, "watching the tool policy files"),
        }
    })
    .map_err(|e| PolicyError::new(authorizer.policy_path(), None, format!("cannot watch: {e}")))?;

    let directories: BTreeSet<PathBuf> = [authorizer.model_path(), authorizer.policy_path()]
        .into_iter()
        .map(directory_of)
        .collect();
    for dir in &directories {
        watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|e| PolicyError::new(dir, None, format!("cannot watch the directory: {e}")))?;
    }

    let signal_task = signal_task(tx);

    let weak = Arc::downgrade(authorizer);
    thread::Builder::new()
        .name("box-mcp-policy-watch".into())
        .spawn(move || reload_loop(&weak, &rx))
        .map_err(|e| {
            PolicyError::new(
                authorizer.policy_path(),
                None,
                format!("cannot start the watcher: {e}"),
            )
        })?;

    tracing::info!(
        directories = ?directories,
        sighup = signal_task.is_some(),
        "watching the tool policy for changes"
    );
    Ok(PolicyWatcher {
        watcher: Some(watcher),
        signal_task,
        directories: directories.into_iter().collect(),
    })
}

#[cfg(unix)]
fn signal_task(tx: mpsc::Sender<Trigger>) -> Option<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    // Registered here, synchronously, so a SIGHUP right after this returns is
    // already ours (and no longer terminates the process).
    let mut hangups = {
        let _entered = runtime.enter();
        match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot handle SIGHUP; policy reload on signal is off");
                return None;
            }
        }
    };
    Some(runtime.spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the tool policy");
            if tx.send(Trigger::Signal).is_err() {
                break;
            }
        }
    }))
}

#[cfg(not(unix))]
fn signal_task(_tx: mpsc::Sender<Trigger>) -> Option<tokio::task::JoinHandle<()>> {
    None
}

fn reload_loop(authorizer: &Weak<Authorizer>, rx: &mpsc::Receiver<Trigger>) {
    while let Ok(first) = rx.recv() {
        let mut forced = first == Trigger::Signal;
        let started = Instant::now();
        let mut disconnected = false;
        loop {
            match rx.recv_timeout(QUIET) {
                Ok(trigger) => {
                    forced |= trigger == Trigger::Signal;
                    if started.elapsed() >= MAX_DELAY {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    disconnected = true;
                    break;
                }
            }
        }
        let Some(authorizer) = authorizer.upgrade() else {
            return;
        };
        // Errors are logged and recorded in the status by the reload itself.
        if forced {
            let _ = authorizer.reload();
        } else {
            let _ = authorizer.reload_if_changed();
        }
        if disconnected {
            return;
        }
    }
}
