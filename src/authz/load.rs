//! Reading, checking and compiling the model and the policy into a
//! [`CompiledPolicy`]. Everything that could go wrong at request time is checked
//! here, and every error names the file and, where there is one, the line.

use std::{
    collections::{HashMap, HashSet},
    fmt,
    path::Path,
    sync::{Arc, LazyLock},
};

use casbin::{
    CoreApi, DefaultModel, Enforcer, NullAdapter, RoleManager,
    function_map::{OperatorFunction, dynamic_to_str},
};
use parking_lot::RwLock;
use regex::Regex;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{
    action::ToolList,
    effect::{RecordingEffector, take_deciding_index},
    glob::{check_pattern, glob_match},
    subjects::{SEPARATOR, Subject, SubjectGraph, SubjectKind},
};

/// A model or policy that cannot be used, with where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct PolicyError {
    /// The file, as configured.
    pub file: String,
    /// The line (1-based), when the problem is on one.
    pub line: Option<usize>,
    pub message: String,
}

impl PolicyError {
    pub(crate) fn new(file: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            file: file.display().to_string(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// The actions a policy line may name: the tools' actions
/// ([`super::Action`]), or `*`.
pub(crate) const ACTIONS: [&str; 4] = ["read", "write", "delete", "*"];

/// The policy effects Casbin's default effector implements; anything else would
/// panic on the first request.
const EFFECTS: [&str; 4] = [
    "some(where (p.eft == allow)) && !some(where (p.eft == deny))",
    "some(where (p.eft == allow))",
    "!some(where (p.eft == deny))",
    "priority(p.eft) || deny",
];

/// A policy line as written (normalized: fields trimmed, joined by `, `) and
/// where it is.
#[derive(Debug, Clone)]
pub(crate) struct RuleSource {
    pub line: usize,
    pub text: Arc<str>,
}

/// A model and policy, checked and compiled. Immutable; replaced as a whole on
/// reload.
pub(crate) struct CompiledPolicy {
    enforcer: Enforcer,
    /// Every subject the policy names, per kind ([`SubjectKind::index`]). A
    /// caller's other subjects cannot change a decision, so they are left out of
    /// requests and cache keys.
    known: [HashSet<Box<str>>; 4],
    /// The `p` lines in load order (Casbin's order; repeated lines are left out).
    sources: Vec<RuleSource>,
    pub rules: usize,
    pub role_links: usize,
    pub warnings: Vec<String>,
    /// SHA-256 of the model and the policy, hex: which files are in force.
    pub digest: String,
}

impl CompiledPolicy {
    /// How many `p` rules one policy has that the other has not (by their text).
    pub fn changed_rules_since(&self, previous: &CompiledPolicy) -> usize {
        let texts = |p: &CompiledPolicy| -> std::collections::HashSet<Arc<str>> {
            p.sources.iter().map(|s| Arc::clone(&s.text)).collect()
        };
        texts(self).symmetric_difference(&texts(previous)).count()
    }
}

/// What the enforcer answered for one request.
pub(crate) struct Evaluation {
    pub allowed: bool,
    pub rule: Option<RuleSource>,
    /// Set when the enforcer failed (the request is then denied).
    pub error: Option<String>,
}

impl CompiledPolicy {
    /// Whether the policy names `subject`.
    pub fn knows(&self, subject: &Subject<'_>) -> bool {
        self.known[subject.kind.index()].contains(subject.name)
    }

    /// Asks the enforcer about `subjects` (all known to the policy) using `tool`
    /// for `action`, and finds the line that decided: the first allow line when
    /// allowed, the deny line when denied by one, none when nothing matched.
    pub fn evaluate(&self, subjects: &[Subject<'_>], tool: &str, action: &str) -> Evaluation {
        let mut joined = String::new();
        for (i, s) in subjects.iter().enumerate() {
            if i > 0 {
                joined.push(SEPARATOR);
            }
            joined.push_str(s.kind.prefix());
            joined.push_str(s.name);
        }
        let request = vec![joined, tool.to_string(), action.to_string()];
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            take_deciding_index();
            let allowed = self.enforcer.enforce(request)?;
            Ok::<_, casbin::Error>((allowed, take_deciding_index()))
        }));
        match outcome {
            Ok(Ok((allowed, deciding))) => Evaluation {
                allowed,
                rule: deciding.and_then(|i| self.sources.get(i).cloned()),
                error: None,
            },
            Ok(Err(e)) => Evaluation {
                allowed: false,
                rule: None,
                error: Some(e.to_string()),
            },
            Err(panic) => Evaluation {
                allowed: false,
                rule: None,
                error: Some(format!(
                    "the policy engine panicked: {}",
                    panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| panic.downcast_ref::<&str>().copied())
                        .unwrap_or("(no message)")
                )),
            },
        }
    }
}

/// SHA-256 over both files (length-prefixed, so moving text between them counts).
pub(crate) fn digest(model: &str, policy: &str) -> String {
    let mut h = Sha256::new();
    for text in [model, policy] {
        h.update((text.len() as u64).to_be_bytes());
        h.update(text.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn read(path: &Path) -> Result<String, PolicyError> {
    crate::setting::read_config_text(path)
        .map_err(|e| PolicyError::new(path, None, format!("cannot read: {e}")))
}

/// Checks and compiles a model and a policy given as text (`*_path` name them in errors).
pub(crate) fn compile(
    model_path: &Path,
    model_text: &str,
    policy_path: &Path,
    policy_text: &str,
    tools: &ToolList,
) -> Result<CompiledPolicy, PolicyError> {
    let model = check_model(model_path, model_text)?;
    let policy = parse_policy(policy_path, policy_text, &model, tools)?;

    let enforcer =
        futures::executor::block_on(build_enforcer(model_text, &policy)).map_err(|e| {
            PolicyError::new(model_path, None, format!("Casbin refuses the model: {e}"))
        })?;

    let mut known: [HashSet<Box<str>>; 4] = Default::default();
    let mut remember = |s: &str| {
        if let Some(subject) = Subject::parse(s) {
            known[subject.kind.index()].insert(subject.name.into());
        }
    };
    for rule in &policy.p {
        remember(&rule.values[0]);
    }
    for link in &policy.g {
        remember(&link.member);
        remember(&link.role);
    }

    let sources = policy
        .p
        .iter()
        .map(|rule| RuleSource {
            line: rule.line,
            text: rule.text.clone(),
        })
        .collect();

    let compiled = CompiledPolicy {
        enforcer,
        known,
        sources,
        rules: policy.p.len(),
        role_links: policy.g.len(),
        warnings: policy.warnings,
        digest: digest(model_text, policy_text),
    };

    // Run the matcher once, as the subject of the first rule (so at least that
    // line is evaluated in full): a matcher that fails at run time (an unknown
    // function, a misspelt field) is a load error, not a denial on every request.
    let first = policy.p.first().and_then(|r| Subject::parse(&r.values[0]));
    let probe = compiled.evaluate(first.as_slice(), "box_mcp_probe", "read");
    if let Some(error) = probe.error {
        return Err(PolicyError::new(
            model_path,
            model.matcher_line,
            format!("the matcher fails: {error}"),
        ));
    }
    Ok(compiled)
}

async fn build_enforcer(model_text: &str, policy: &ParsedPolicy) -> casbin::Result<Enforcer> {
    let model = DefaultModel::from_str(model_text).await?;
    let mut enforcer = Enforcer::new_raw(model, NullAdapter).await?;
    enforcer.set_effector(Box::new(RecordingEffector));
    // Replace the built-ins that compile per call and panic on a bad pattern.
    enforcer.add_function(
        "globMatch",
        OperatorFunction::Arg2(|name, pattern| {
            glob_match(&dynamic_to_str(&name), &dynamic_to_str(&pattern)).into()
        }),
    );
    enforcer.add_function(
        "regexMatch",
        OperatorFunction::Arg2(|text, pattern| {
            Regex::new(&dynamic_to_str(&pattern))
                .map(|re| re.is_match(&dynamic_to_str(&text)))
                .unwrap_or(false)
                .into()
        }),
    );
    let graph: Arc<RwLock<dyn RoleManager>> = Arc::new(RwLock::new(SubjectGraph::default()));
    enforcer.set_role_manager(graph)?;
    let model = enforcer.get_mut_model();
    for rule in &policy.p {
        model.add_policy("p", "p", rule.values.clone());
    }
    for link in &policy.g {
        model.add_policy("g", "g", vec![link.member.clone(), link.role.clone()]);
    }
    enforcer.build_role_links()?;
    Ok(enforcer)
}

/// What the policy parser needs to know about the model.
struct ModelFacts {
    /// How the matcher reads `p.obj`: as a glob, a regex, or as something else.
    obj_patterns: PatternKind,
    matcher_line: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatternKind {
    Glob,
    Regex,
    Other,
}

/// One `key = value` of the model, with its line.
struct ModelEntry {
    section: String,
    key: String,
    value: String,
    line: usize,
}

/// Reads the model's entries the way Casbin does (sections, `key = value`,
/// `#`/`;` comments, `\` continuations), keeping line numbers for errors.
fn model_entries(text: &str) -> Vec<ModelEntry> {
    let mut entries = Vec::new();
    let mut section = String::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, raw)) = lines.next() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            section = line[1..line.len() - 1].trim().to_string();
            continue;
        }
        let mut full = line.to_string();
        while full.ends_with('\\') {
            full.pop();
            match lines.next() {
                Some((_, next)) => full.push_str(next.trim()),
                None => break,
            }
        }
        let (key, value) = full.split_once('=').unwrap_or((&full, ""));
        let value = value.find('#').map_or(value, |i| &value[..i]);
        entries.push(ModelEntry {
            section: section.clone(),
            key: key.trim().to_string(),
            value: value.trim().to_string(),
            line: i + 1,
        });
    }
    entries
}

fn tokens(value: &str) -> Vec<&str> {
    value.split(',').map(str::trim).collect()
}

/// Checks that the model is one box-mcp can use: requests of (subject, tool,
/// action), policy lines of (subject, tool, action, effect), one `g = _, _` role
/// definition, an effect Casbin implements, and a matcher that reads the request
/// subject only through `g(r.sub, p.sub)` (which is what lets one request carry
/// all of a caller's subjects).
fn check_model(path: &Path, text: &str) -> Result<ModelFacts, PolicyError> {
    const SECTIONS: [(&str, &str); 5] = [
        ("request_definition", "r"),
        ("policy_definition", "p"),
        ("role_definition", "g"),
        ("policy_effect", "e"),
        ("matchers", "m"),
    ];
    let entries = model_entries(text);
    for entry in &entries {
        match SECTIONS.iter().find(|(s, _)| *s == entry.section) {
            None => {
                return Err(PolicyError::new(
                    path,
                    Some(entry.line),
                    format!(
                        "`{}` is outside the sections box-mcp reads ([request_definition], [policy_definition], [role_definition], [policy_effect], [matchers])",
                        entry.key
                    ),
                ));
            }
            Some((section, key)) if *key != entry.key => {
                return Err(PolicyError::new(
                    path,
                    Some(entry.line),
                    format!("[{section}] takes only `{key} = …`, not `{}`", entry.key),
                ));
            }
            _ => {}
        }
    }
    let find = |key: &str| -> Result<&ModelEntry, PolicyError> {
        let mut found = entries.iter().filter(|e| e.key == key);
        let first = found.next().ok_or_else(|| {
            PolicyError::new(
                path,
                None,
                format!("the model has no `{key} = …` definition"),
            )
        })?;
        if let Some(again) = found.next() {
            return Err(PolicyError::new(
                path,
                Some(again.line),
                format!("`{key}` is defined twice (first on line {})", first.line),
            ));
        }
        Ok(first)
    };

    let r = find("r")?;
    if tokens(&r.value) != ["sub", "obj", "act"] {
        return Err(PolicyError::new(
            path,
            Some(r.line),
            "the request definition must be `r = sub, obj, act` (subjects, tool, action)",
        ));
    }
    let p = find("p")?;
    if tokens(&p.value) != ["sub", "obj", "act", "eft"] {
        return Err(PolicyError::new(
            path,
            Some(p.line),
            "the policy definition must be `p = sub, obj, act, eft` (subject, tool, action, allow|deny)",
        ));
    }
    let g = find("g")?;
    if tokens(&g.value) != ["_", "_"] {
        return Err(PolicyError::new(
            path,
            Some(g.line),
            "the role definition must be `g = _, _` (member, role; no domains)",
        ));
    }
    let e = find("e")?;
    if !EFFECTS.contains(&e.value.as_str()) || !super::effect::is_supported(&e.value) {
        return Err(PolicyError::new(
            path,
            Some(e.line),
            format!(
                "unsupported policy effect `{}`; Casbin implements exactly these: {}",
                e.value,
                EFFECTS.map(|e| format!("`{e}`")).join(", ")
            ),
        ));
    }
    let m = find("m")?;
    if let Err(problem) = check_matcher_shape(&m.value) {
        return Err(PolicyError::new(path, Some(m.line), problem));
    }
    static SUBJECT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\br[._]sub\b").unwrap());
    static SUBJECT_IN_G: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(^|[^\w.])g\(\s*r[._]sub\s*,\s*p[._]sub\s*\)").unwrap());
    let uses = SUBJECT.find_iter(&m.value).count();
    let in_g = SUBJECT_IN_G.find_iter(&m.value).count();
    if in_g == 0 || uses != in_g {
        return Err(PolicyError::new(
            path,
            Some(m.line),
            "the matcher must read the request subject only as `g(r.sub, p.sub)` (a request carries all of the caller's subjects)",
        ));
    }
    static OBJ_FN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(globMatch|regexMatch)\(\s*r[._]obj\s*,\s*p[._]obj\s*\)").unwrap()
    });
    let functions: HashSet<&str> = OBJ_FN
        .captures_iter(&m.value)
        .filter_map(|c| c.get(1).map(|m| m.as_str()))
        .collect();
    let obj_patterns = match (
        functions.contains("globMatch"),
        functions.contains("regexMatch"),
    ) {
        (true, false) => PatternKind::Glob,
        (false, true) => PatternKind::Regex,
        (false, false) => PatternKind::Other,
        (true, true) => {
            return Err(PolicyError::new(
                path,
                Some(m.line),
                "the matcher reads p.obj both as a glob and as a regex; use one",
            ));
        }
    };
    Ok(ModelFacts {
        obj_patterns,
        matcher_line: Some(m.line),
    })
}

/// Casbin hands the matcher to its expression engine, whose parser recurses on
/// every bracket and unary operator: a matcher nested deep enough overflows the
/// stack and aborts the process (found by fuzzing `policy_files`), and a policy
/// reload would take the server down with it. Real matchers are a line or two
/// of shallow expressions, so these bounds refuse only the pathological.
const MAX_MATCHER_BYTES: usize = 4096;
const MAX_MATCHER_NESTING: usize = 16;
const MAX_UNARY_RUN: usize = 4;

fn check_matcher_shape(matcher: &str) -> Result<(), String> {
    if matcher.len() > MAX_MATCHER_BYTES {
        return Err(format!(
            "the matcher is {} bytes; at most {MAX_MATCHER_BYTES} are accepted",
            matcher.len()
        ));
    }
    let (mut depth, mut deepest, mut unary_run, mut longest_run) = (0usize, 0usize, 0usize, 0usize);
    for c in matcher.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if matches!(c, '!' | '-' | '+') {
            unary_run += 1;
            longest_run = longest_run.max(unary_run);
        } else if !c.is_whitespace() {
            unary_run = 0;
        }
    }
    if deepest > MAX_MATCHER_NESTING {
        return Err(format!(
            "the matcher nests brackets {deepest} deep; at most {MAX_MATCHER_NESTING} are accepted"
        ));
    }
    if longest_run > MAX_UNARY_RUN {
        return Err(format!(
            "the matcher has {longest_run} operators in a row (`!`, `-`, `+`); at most {MAX_UNARY_RUN} are accepted"
        ));
    }
    Ok(())
}

struct PolicyRule {
    values: Vec<String>,
    line: usize,
    text: Arc<str>,
}

struct RoleLink {
    member: String,
    role: String,
}

struct ParsedPolicy {
    p: Vec<PolicyRule>,
    g: Vec<RoleLink>,
    warnings: Vec<String>,
}

/// At most this many warnings are kept (then a count of the rest).
const MAX_WARNINGS: usize = 20;

fn parse_policy(
    path: &Path,
    text: &str,
    model: &ModelFacts,
    tools: &ToolList,
) -> Result<ParsedPolicy, PolicyError> {
    let mut parsed = ParsedPolicy {
        p: Vec::new(),
        g: Vec::new(),
        warnings: Vec::new(),
    };
    let mut warnings = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut links: HashMap<String, Vec<String>> = HashMap::new();

    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |message: String| PolicyError::new(path, Some(line), message);
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(c) = trimmed.chars().find(|c| c.is_control() && *c != '\t') {
            return Err(err(format!("control character {c:?} in the line")));
        }
        if trimmed.contains('"') {
            return Err(err("quotes are not supported in policy lines".into()));
        }
        let fields: Vec<&str> = trimmed.split(',').map(str::trim).collect();
        if let Some(n) = fields.iter().position(|f| f.is_empty()) {
            return Err(err(format!("field {} is empty", n + 1)));
        }
        let normalized = fields.join(", ");
        if let Some(first) = seen.get(&normalized) {
            warnings.push(format!("{}:{line}: repeats line {first}", path.display()));
            continue;
        }
        seen.insert(normalized.clone(), line);
        match fields[0] {
            "p" => {
                if fields.len() != 5 {
                    return Err(err(format!(
                        "a `p` line has 4 fields after `p` (subject, tool, action, allow|deny), this one has {}",
                        fields.len() - 1
                    )));
                }
                let (subject, tool, action, effect) = (fields[1], fields[2], fields[3], fields[4]);
                check_subject(subject).map_err(&err)?;
                match model.obj_patterns {
                    PatternKind::Glob => {
                        check_pattern(tool).map_err(&err)?;
                        if !tools.iter().any(|t| glob_match(&t.name, tool)) {
                            warnings.push(format!(
                                "{}:{line}: `{tool}` matches none of this server's tools",
                                path.display()
                            ));
                        }
                    }
                    PatternKind::Regex => {
                        Regex::new(tool).map_err(|e| err(format!("bad regex {tool:?}: {e}")))?;
                    }
                    PatternKind::Other => {}
                }
                if !ACTIONS.contains(&action) {
                    return Err(err(format!(
                        "unknown action `{action}`: write read, write, delete or *"
                    )));
                }
                if effect != "allow" && effect != "deny" {
                    return Err(err(format!(
                        "unknown effect `{effect}`: write allow or deny"
                    )));
                }
                parsed.p.push(PolicyRule {
                    values: fields[1..].iter().map(|f| f.to_string()).collect(),
                    line,
                    text: normalized.into(),
                });
            }
            "g" => {
                if fields.len() != 3 {
                    return Err(err(format!(
                        "a `g` line has 2 fields after `g` (member, role), this one has {}",
                        fields.len() - 1
                    )));
                }
                let (member, role) = (fields[1], fields[2]);
                check_subject(member).map_err(&err)?;
                check_subject(role).map_err(&err)?;
                if !matches!(
                    Subject::parse(role).map(|s| s.kind),
                    Some(SubjectKind::Role | SubjectKind::Group)
                ) {
                    return Err(err(format!(
                        "`{role}` cannot be granted: the second field of a `g` line is a role: or group:"
                    )));
                }
                if member == role || reaches(&links, role, member) {
                    return Err(err(format!(
                        "`g, {member}, {role}` makes a cycle: {role} already includes {member}"
                    )));
                }
                links
                    .entry(member.to_string())
                    .or_default()
                    .push(role.to_string());
                parsed.g.push(RoleLink {
                    member: member.to_string(),
                    role: role.to_string(),
                });
            }
            other => {
                return Err(err(format!(
                    "unknown line type `{other}`: a line starts with `p` (a rule) or `g` (a role link)"
                )));
            }
        }
    }
    if warnings.len() > MAX_WARNINGS {
        let more = warnings.len() - MAX_WARNINGS;
        warnings.truncate(MAX_WARNINGS);
        warnings.push(format!("… and {more} more"));
    }
    parsed.warnings = warnings;
    Ok(parsed)
}

fn check_subject(s: &str) -> Result<(), String> {
    if Subject::parse(s).is_none() {
        return Err(format!(
            "`{s}` is not a subject: write role:<role>, group:<group>, user:<username> or sub:<subject id>"
        ));
    }
    Ok(())
}

/// Whether `from` reaches `to` through `links`.
fn reaches(links: &HashMap<String, Vec<String>>, from: &str, to: &str) -> bool {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut stack = vec![from];
    while let Some(name) = stack.pop() {
        if name == to {
            return true;
        }
        if seen.insert(name)
            && let Some(next) = links.get(name)
        {
            stack.extend(next.iter().map(String::as_str));
        }
    }
    false
}
