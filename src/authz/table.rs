//! Tables of expected decisions (`policies/tests.csv`), run by
//! `box-mcp policy test`.
//!
//! One case per line, `subjects;tool;expected`:
//!
//! ```text
//! # comments and blank lines are skipped; a `subjects;tool;expected` header too
//! role:mcp-viewer;box_file_get;allow
//! role:mcp-viewer user:alice;box_file_delete;deny
//! -;whoami;deny
//! role:custom;my_tool@write;deny
//! ```
//!
//! Subjects are separated by spaces or commas (`-` for none). A tool's action is
//! looked up in the server's tool list; a tool not in it is written `name@action`.

use std::{fmt, path::Path};

use super::{Action, Authorizer, Decision, PolicyError, Subject, ToolList, load};

/// One expected decision.
#[derive(Debug, Clone)]
pub struct TableCase {
    pub line: usize,
    pub subjects: Vec<String>,
    pub tool: String,
    pub action: Action,
    pub expected: bool,
}

/// A case whose decision differs from the expected one.
#[derive(Debug, Clone)]
pub struct TableFailure {
    pub case: TableCase,
    pub got: Decision,
}

/// The outcome of a table.
#[derive(Debug, Clone)]
pub struct TableReport {
    pub file: String,
    pub cases: usize,
    pub failures: Vec<TableFailure>,
}

impl TableReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

fn verdict(allowed: bool) -> &'static str {
    if allowed { "allow" } else { "deny" }
}

impl fmt::Display for TableFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let case = &self.case;
        let subjects = if case.subjects.is_empty() {
            "(none)".to_string()
        } else {
            case.subjects.join(" ")
        };
        writeln!(f, "  subjects: {subjects}")?;
        writeln!(f, "  tool:     {} ({})", case.tool, case.action.as_str())?;
        writeln!(f, "- expected: {}", verdict(case.expected))?;
        write!(f, "+ got:      {}", self.got)
    }
}

impl fmt::Display for TableReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for failure in &self.failures {
            writeln!(f, "FAIL {}:{}", self.file, failure.case.line)?;
            writeln!(f, "{failure}")?;
        }
        if self.passed() {
            write!(f, "{}: all {} cases pass", self.file, self.cases)
        } else {
            write!(
                f,
                "{}: {} of {} cases fail",
                self.file,
                self.failures.len(),
                self.cases
            )
        }
    }
}

/// A tool argument: the name of one of `tools`, or `name@action` for any tool.
pub fn parse_tool(text: &str, tools: &ToolList) -> Result<(String, Action), String> {
    if let Some((name, action)) = text.split_once('@') {
        let Some(action) = Action::parse(action) else {
            return Err(format!(
                "unknown action `{action}`: write read, write or delete"
            ));
        };
        if name.is_empty() {
            return Err(format!("`{text}` names no tool"));
        }
        return Ok((name.to_string(), action));
    }
    match tools.find(text) {
        Some(tool) => Ok((tool.name.to_string(), tool.action)),
        None => Err(format!(
            "`{text}` is not one of this server's tools; for another tool write `{text}@read` (or @write, @delete)"
        )),
    }
}

fn parse_case(line: usize, text: &str, tools: &ToolList) -> Result<TableCase, String> {
    let columns: Vec<&str> = text.split(';').map(str::trim).collect();
    let [subjects, tool, expected] = columns[..] else {
        return Err(format!(
            "expected 3 columns `subjects;tool;expected`, found {}",
            columns.len()
        ));
    };
    let subjects: Vec<String> = if subjects == "-" || subjects.is_empty() {
        Vec::new()
    } else {
        subjects
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(|s| match Subject::parse(s) {
                Some(_) => Ok(s.to_string()),
                None => Err(format!(
                    "`{s}` is not a subject: write role:…, group:…, user:… or sub:…"
                )),
            })
            .collect::<Result<_, _>>()?
    };
    let (tool, action) = parse_tool(tool, tools)?;
    let expected = match expected {
        "allow" => true,
        "deny" => false,
        other => return Err(format!("expected `allow` or `deny`, found `{other}`")),
    };
    Ok(TableCase {
        line,
        subjects,
        tool,
        action,
        expected,
    })
}

/// Reads the table at `path`, for a server with `tools`.
pub fn read_table(path: &Path, tools: &ToolList) -> Result<Vec<TableCase>, PolicyError> {
    let text = load::read(path)?;
    let mut cases = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
        if cases.is_empty() && compact.eq_ignore_ascii_case("subjects;tool;expected") {
            continue;
        }
        cases.push(
            parse_case(i + 1, line, tools).map_err(|m| PolicyError::new(path, Some(i + 1), m))?,
        );
    }
    if cases.is_empty() {
        return Err(PolicyError::new(path, None, "the table has no cases"));
    }
    Ok(cases)
}

/// Runs the table at `path` against `authorizer` (uncached: every case is
/// decided from the policy).
pub fn run_table(authorizer: &Authorizer, path: &Path) -> Result<TableReport, PolicyError> {
    let cases = read_table(path, authorizer.tools())?;
    let mut failures = Vec::new();
    for case in &cases {
        let subjects = case.subjects.iter().filter_map(|s| Subject::parse(s));
        let got = authorizer.decide_uncached(subjects, &case.tool, case.action);
        if got.allowed != case.expected {
            failures.push(TableFailure {
                case: case.clone(),
                got,
            });
        }
    }
    Ok(TableReport {
        file: path.display().to_string(),
        cases: cases.len(),
        failures,
    })
}
