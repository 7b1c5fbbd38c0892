//! Tool-level RBAC: which tools a caller may see and call, decided by a Casbin
//! model and policy (`policies/model.conf`, `policies/policy.csv`; format in
//! `policies/README.md`).
//!
//! A request is (the caller's subjects, the tool, the tool's effect). The
//! subjects are the caller's roles, groups, username and subject id, written
//! `role:…`, `group:…`, `user:…`, `sub:…`; role links (`g` lines) make roles
//! include roles; deny lines win over allow lines; no allow line means deny.
//!
//! - [`Authorizer::decide`] is synchronous and cheap: decisions are cached per
//!   (the caller's subjects that the policy names, tool, effect), so callers with
//!   the same roles share entries; the cache belongs to the policy snapshot and
//!   goes with it on reload.
//! - The model and policy are checked when they load: a bad pattern, subject,
//!   action or line is an error naming the file and line ([`PolicyError`]).
//! - [`Authorizer::reload`] builds a new snapshot and swaps it in atomically; on
//!   error the last good one stays and [`Authorizer::status`] reports the error.
//!   [`Authorizer::spawn_watcher`] reloads on file changes and on SIGHUP.

mod action;
mod cache;
mod config;
mod effect;
mod glob;
pub(crate) mod load;
mod subjects;
mod table;
mod watch;

#[cfg(test)]
pub(crate) mod tests;

use crate::metrics;
use std::{
    fmt,
    hash::{BuildHasher, RandomState},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::SystemTime,
};

use arc_swap::ArcSwap;
use serde::{Serialize, Serializer, ser::SerializeStruct};

pub use action::{Action, PolicyTool, ToolList};
pub use config::PolicyConfig;
pub use glob::{check_pattern, glob_match};
pub use load::PolicyError;
pub use subjects::{Subject, SubjectKind, principal_subjects};
pub use table::{TableCase, TableFailure, TableReport, parse_tool, read_table, run_table};
pub use watch::PolicyWatcher;

use crate::auth::Principal;
use load::{CompiledPolicy, RuleSource};

/// The outcome of one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The policy line that decided, as written (fields joined by `, `), e.g.
    /// `p, role:mcp-viewer, *, read, allow`. `None` when no line matched (the
    /// default deny), or when the policy engine failed (also a deny; logged).
    pub rule: Option<Arc<str>>,
    /// That line's number in the policy file.
    pub line: Option<usize>,
    /// The caller's subjects the policy names, sorted; the caller's other subjects
    /// cannot change a decision.
    pub subjects: Arc<[String]>,
    /// The policy generation that decided.
    pub generation: u64,
}

impl Decision {
    /// `allow` or `deny`.
    pub fn verdict(&self) -> &'static str {
        if self.allowed { "allow" } else { "deny" }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.rule, self.line) {
            (Some(rule), Some(line)) => write!(f, "{} by line {line}: {rule}", self.verdict()),
            (Some(rule), None) => write!(f, "{} by {rule}", self.verdict()),
            _ if self.allowed => write!(f, "allow: no policy line denies it"),
            _ => write!(f, "deny: no policy line allows it"),
        }
    }
}

impl Serialize for Decision {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Decision", 5)?;
        s.serialize_field("allowed", &self.allowed)?;
        s.serialize_field("rule", &self.rule.as_deref())?;
        s.serialize_field("line", &self.line)?;
        s.serialize_field("subjects", &*self.subjects)?;
        s.serialize_field("generation", &self.generation)?;
        s.end()
    }
}

/// What [`Authorizer::status`] reports (e.g. for a health or admin endpoint).
#[derive(Debug, Clone, Serialize)]
pub struct PolicyStatus {
    /// Counts successful loads, from 1.
    pub generation: u64,
    /// When the policy in force was loaded (RFC 3339, UTC).
    pub loaded_at: String,
    pub model: String,
    pub policy: String,
    /// SHA-256 of the model and policy in force.
    pub digest: String,
    /// `p` lines and `g` lines in force.
    pub rules: usize,
    pub role_links: usize,
    /// Lines that load but are probably mistakes (repeated lines, patterns that
    /// match no tool).
    pub warnings: Vec<String>,
    /// Why the last reload failed, if it did and nothing has loaded since.
    pub last_error: Option<PolicyError>,
    pub last_error_at: Option<String>,
    /// Failed reloads since start.
    pub reload_failures: u64,
    /// Decisions cached for the policy in force.
    pub cached_decisions: u64,
}

/// A policy in force: the compiled policy, its generation and its decisions.
struct PolicySnapshot {
    policy: CompiledPolicy,
    generation: u64,
    loaded_at: SystemTime,
    cache: Option<cache::DecisionCache<CachedDecision>>,
    /// Keys the cache (random per snapshot; entries are checked on hit anyway).
    hasher: RandomState,
}

struct CachedDecision {
    tool: Box<str>,
    action: Action,
    decision: Decision,
}

impl PolicySnapshot {
    fn new(policy: CompiledPolicy, generation: u64, cache_capacity: u64) -> Self {
        Self {
            policy,
            generation,
            loaded_at: SystemTime::now(),
            cache: (cache_capacity > 0).then(|| cache::DecisionCache::new(cache_capacity)),
            hasher: RandomState::new(),
        }
    }

    /// The caller's subjects the policy names, sorted and without repeats.
    fn relevant<'a>(&self, subjects: impl IntoIterator<Item = Subject<'a>>) -> Vec<Subject<'a>> {
        let mut relevant: Vec<Subject<'a>> = subjects
            .into_iter()
            .filter(|s| self.policy.knows(s))
            .collect();
        relevant.sort_unstable();
        relevant.dedup();
        relevant
    }

    fn decide(
        &self,
        relevant: &[Subject<'_>],
        tool: &str,
        action: Action,
        cached: bool,
    ) -> Decision {
        let cache = self.cache.as_ref().filter(|_| cached);
        let key = self.hasher.hash_one((relevant, tool, action as u8));
        // The key is a hash: the entry must be for exactly this request.
        if let Some(entry) = cache.and_then(|c| c.get(key))
            && &*entry.tool == tool
            && entry.action == action
            && entry.decision.subjects.len() == relevant.len()
            && relevant
                .iter()
                .zip(entry.decision.subjects.iter())
                .all(|(s, written)| s.is_written_as(written))
        {
            metrics::cache(metrics::Cache::Decisions, true);
            return entry.decision.clone();
        }
        if cache.is_some() {
            metrics::cache(metrics::Cache::Decisions, false);
        }
        let evaluation = self.policy.evaluate(relevant, tool, action.as_str());
        if let Some(error) = &evaluation.error {
            tracing::error!(tool, error = %error, "the tool policy failed to decide; denying");
        }
        let (rule, line) = match evaluation.rule {
            Some(RuleSource { line, text }) => (Some(text), Some(line)),
            None => (None, None),
        };
        let decision = Decision {
            allowed: evaluation.allowed,
            rule,
            line,
            subjects: relevant.iter().map(Subject::to_string).collect(),
            generation: self.generation,
        };
        if let Some(cache) = cache {
            // A failed evaluation is not remembered: the next request tries again.
            if evaluation.error.is_none() {
                cache.insert(
                    key,
                    Arc::new(CachedDecision {
                        tool: tool.into(),
                        action,
                        decision: decision.clone(),
                    }),
                );
            }
        }
        decision
    }
}

#[derive(Default)]
struct ReloadState {
    last_error: Option<(PolicyError, SystemTime)>,
    reload_failures: u64,
    /// The digest of the files the last failed reload read, so that the watcher
    /// does not retry (and report) the same broken files on every event.
    failed_digest: Option<String>,
}

/// Decides which tools a caller may use. Share it as `Arc<Authorizer>`.
pub struct Authorizer {
    model_path: PathBuf,
    policy_path: PathBuf,
    cache_capacity: u64,
    /// The server's tools, for the loader's warnings and for policy tables.
    tools: ToolList,
    current: ArcSwap<PolicySnapshot>,
    /// Serializes reloads and holds their outcome.
    reload_state: Mutex<ReloadState>,
}

impl Authorizer {
    /// Loads and checks the model and policy for a server with `tools`;
    /// `cache_capacity` decisions are cached (0: none).
    pub fn load(
        model: &Path,
        policy: &Path,
        cache_capacity: u64,
        tools: ToolList,
    ) -> Result<Arc<Self>, PolicyError> {
        let (model_text, policy_text) = (load::read(model)?, load::read(policy)?);
        let compiled = load::compile(model, &model_text, policy, &policy_text, &tools)?;
        log_warnings(&compiled);
        tracing::info!(
            model = %model.display(),
            policy = %policy.display(),
            rules = compiled.rules,
            role_links = compiled.role_links,
            "tool policy loaded"
        );
        Ok(Arc::new(Self {
            model_path: model.to_path_buf(),
            policy_path: policy.to_path_buf(),
            cache_capacity,
            tools,
            current: ArcSwap::from_pointee(PolicySnapshot::new(compiled, 1, cache_capacity)),
            reload_state: Mutex::new(ReloadState::default()),
        }))
    }

    /// [`Authorizer::load`] with the `[policy]` configuration.
    pub fn from_config(config: &PolicyConfig, tools: ToolList) -> Result<Arc<Self>, PolicyError> {
        Self::load(
            &config.model,
            &config.policy,
            config.decision_cache_capacity,
            tools,
        )
    }

    /// The server's tools, as the policy sees them.
    pub fn tools(&self) -> &ToolList {
        &self.tools
    }

    pub fn model_path(&self) -> &Path {
        &self.model_path
    }

    pub fn policy_path(&self) -> &Path {
        &self.policy_path
    }

    /// Whether `principal` may use `tool`, whose action is `action`. Decide only
    /// for tools that exist: the cache is keyed by tool name.
    pub fn decide(&self, principal: &Principal, tool: &str, action: Action) -> Decision {
        self.decide_subjects(principal_subjects(principal), tool, action)
    }

    /// [`Authorizer::decide`] for a caller given as subjects.
    pub fn decide_subjects<'a>(
        &self,
        subjects: impl IntoIterator<Item = Subject<'a>>,
        tool: &str,
        action: Action,
    ) -> Decision {
        let snapshot = self.current.load();
        let relevant = snapshot.relevant(subjects);
        snapshot.decide(&relevant, tool, action, true)
    }

    /// [`Authorizer::decide_subjects`] without the cache (it neither reads nor
    /// fills it): what a decision costs the first time.
    pub fn decide_uncached<'a>(
        &self,
        subjects: impl IntoIterator<Item = Subject<'a>>,
        tool: &str,
        action: Action,
    ) -> Decision {
        let snapshot = self.current.load();
        let relevant = snapshot.relevant(subjects);
        snapshot.decide(&relevant, tool, action, false)
    }

    /// Decisions for one caller against one policy snapshot, e.g. to filter a
    /// `tools/list`: the caller's subjects are looked up once, and every tool is
    /// decided by the same generation even if a reload happens meanwhile.
    pub fn for_principal<'p>(&self, principal: &'p Principal) -> CallerDecisions<'p> {
        self.for_subjects(principal_subjects(principal))
    }

    /// [`Authorizer::for_principal`] for a caller given as subjects.
    pub fn for_subjects<'a>(
        &self,
        subjects: impl IntoIterator<Item = Subject<'a>>,
    ) -> CallerDecisions<'a> {
        let snapshot = self.current.load_full();
        let relevant = snapshot.relevant(subjects);
        CallerDecisions { snapshot, relevant }
    }

    /// The generation of the policy in force.
    pub fn generation(&self) -> u64 {
        self.current.load().generation
    }

    /// Reads, checks and compiles both files again and swaps the result in;
    /// requests in flight finish with the policy they started with. On error the
    /// policy in force stays, and [`Authorizer::status`] reports the error.
    /// Blocking (file reads and compilation); call it off the async executor.
    pub fn reload(&self) -> Result<u64, PolicyError> {
        let mut state = self.reload_state.lock().unwrap_or_else(|e| e.into_inner());
        self.reload_locked(&mut state, None)
    }

    /// Reloads when either file differs from the policy in force (or from the
    /// last broken version seen). `Ok(None)`: nothing changed.
    pub(crate) fn reload_if_changed(&self) -> Result<Option<u64>, PolicyError> {
        let mut state = self.reload_state.lock().unwrap_or_else(|e| e.into_inner());
        let texts = match (load::read(&self.model_path), load::read(&self.policy_path)) {
            (Ok(m), Ok(p)) => (m, p),
            (Err(e), _) | (_, Err(e)) => return Err(self.fail(&mut state, e, None)),
        };
        let digest = load::digest(&texts.0, &texts.1);
        if digest == self.current.load().policy.digest {
            // Back to what is in force (e.g. a broken edit undone).
            state.last_error = None;
            state.failed_digest = None;
            return Ok(None);
        }
        if state.failed_digest.as_deref() == Some(digest.as_str()) {
            return Ok(None);
        }
        self.reload_locked(&mut state, Some(texts)).map(Some)
    }

    fn reload_locked(
        &self,
        state: &mut ReloadState,
        texts: Option<(String, String)>,
    ) -> Result<u64, PolicyError> {
        let (model_text, policy_text) = match texts {
            Some(t) => t,
            None => match (load::read(&self.model_path), load::read(&self.policy_path)) {
                (Ok(m), Ok(p)) => (m, p),
                (Err(e), _) | (_, Err(e)) => return Err(self.fail(state, e, None)),
            },
        };
        match load::compile(
            &self.model_path,
            &model_text,
            &self.policy_path,
            &policy_text,
            &self.tools,
        ) {
            Ok(compiled) => {
                log_warnings(&compiled);
                let previous = self.current.load();
                let generation = previous.generation + 1;
                tracing::info!(
                    generation,
                    rules = compiled.rules,
                    role_links = compiled.role_links,
                    "tool policy reloaded"
                );
                crate::audit::policy_reloaded(
                    generation,
                    &compiled.digest,
                    compiled.rules,
                    compiled.changed_rules_since(&previous.policy),
                );
                self.current.store(Arc::new(PolicySnapshot::new(
                    compiled,
                    generation,
                    self.cache_capacity,
                )));
                state.last_error = None;
                state.failed_digest = None;
                Ok(generation)
            }
            Err(e) => {
                let digest = load::digest(&model_text, &policy_text);
                Err(self.fail(state, e, Some(digest)))
            }
        }
    }

    fn fail(
        &self,
        state: &mut ReloadState,
        error: PolicyError,
        digest: Option<String>,
    ) -> PolicyError {
        tracing::error!(error = %error, "tool policy reload failed; the last good policy stays in force");
        crate::audit::policy_reload_failed(&error);
        state.reload_failures += 1;
        state.last_error = Some((error.clone(), SystemTime::now()));
        state.failed_digest = digest;
        error
    }

    /// The policy in force and how reloading has gone.
    pub fn status(&self) -> PolicyStatus {
        let snapshot = self.current.load();
        let state = self.reload_state.lock().unwrap_or_else(|e| e.into_inner());
        PolicyStatus {
            generation: snapshot.generation,
            loaded_at: rfc3339(snapshot.loaded_at),
            model: self.model_path.display().to_string(),
            policy: self.policy_path.display().to_string(),
            digest: snapshot.policy.digest.clone(),
            rules: snapshot.policy.rules,
            role_links: snapshot.policy.role_links,
            warnings: snapshot.policy.warnings.clone(),
            last_error: state.last_error.as_ref().map(|(e, _)| e.clone()),
            last_error_at: state.last_error.as_ref().map(|(_, at)| rfc3339(*at)),
            reload_failures: state.reload_failures,
            cached_decisions: snapshot.cache.as_ref().map_or(0, |c| c.len()),
        }
    }

    /// Reloads within about a second of a change to either file (the directories
    /// are watched, so editors' write-and-rename saves and symlink swaps are seen;
    /// events are debounced by 100 ms) and on SIGHUP (when called inside a Tokio
    /// runtime). Stops when the returned [`PolicyWatcher`] is dropped.
    pub fn spawn_watcher(self: &Arc<Self>) -> Result<PolicyWatcher, PolicyError> {
        watch::spawn(self)
    }
}

/// Decisions for one caller against one policy snapshot ([`Authorizer::for_principal`]).
pub struct CallerDecisions<'a> {
    snapshot: Arc<PolicySnapshot>,
    relevant: Vec<Subject<'a>>,
}

impl CallerDecisions<'_> {
    pub fn decide(&self, tool: &str, action: Action) -> Decision {
        self.snapshot.decide(&self.relevant, tool, action, true)
    }

    /// Whether the caller may use `tool`: [`CallerDecisions::decide`] without the details.
    pub fn allows(&self, tool: &str, action: Action) -> bool {
        self.decide(tool, action).allowed
    }

    pub fn generation(&self) -> u64 {
        self.snapshot.generation
    }
}

fn log_warnings(policy: &CompiledPolicy) {
    for warning in &policy.warnings {
        tracing::warn!(warning = %warning, "tool policy");
    }
}

fn rfc3339(at: SystemTime) -> String {
    humantime_serde::re::humantime::format_rfc3339_seconds(at).to_string()
}
