//! The `box-mcp` command line. All logic lives in the library.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use box_mcp::{
    authz::{self, Authorizer, Subject, SubjectKind},
    config::{Config, Settings},
    mcp::tools::catalog,
    server::{Server, shutdown_signal},
    telemetry::{self, LogTarget},
};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "box-mcp",
    version,
    about = "An MCP server for Box, as an OAuth 2.1 resource server"
)]
struct Cli {
    /// TOML configuration file (defaults, then this file, then BOX_MCP_* variables).
    #[arg(long, short, global = true, env = "BOX_MCP_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve MCP over streamable HTTP at /mcp.
    Serve {
        /// Stop when standard input closes (lets a supervising test or script own the process).
        #[arg(long, hide = true)]
        exit_on_stdin_close: bool,
    },
    /// Serve MCP over stdio for one local user (no OAuth; see the README).
    Stdio,
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Tool policy commands (policies/README.md).
    Policy {
        /// The Casbin model [default: `policy.model` of the configuration].
        #[arg(long, global = true, value_name = "FILE")]
        model: Option<PathBuf>,
        /// The policy lines [default: `policy.policy` of the configuration].
        #[arg(long, global = true, value_name = "FILE")]
        policy: Option<PathBuf>,
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Load and check the model and the policy; print a summary and any warnings.
    Validate,
    /// Decide one tool for a caller: allow or deny, and the policy line that decided.
    Check {
        #[command(flatten)]
        caller: CallerArgs,
        /// A tool of this server, or `name@read|write|delete` for any other.
        tool: String,
    },
    /// Run a table of expected decisions (`subjects;tool;expected` lines); exits
    /// with 1 if any decision differs.
    Test {
        #[arg(default_value = "policies/tests.csv")]
        table: PathBuf,
    },
    /// List the tools a caller may use, with the line that allows each.
    Tools {
        #[command(flatten)]
        caller: CallerArgs,
        /// List the tools the caller may not use too.
        #[arg(long)]
        all: bool,
    },
}

/// A caller, as the subjects a token would give them.
#[derive(clap::Args)]
struct CallerArgs {
    /// A role (repeatable): `role:<ROLE>`.
    #[arg(long = "role", value_name = "ROLE")]
    roles: Vec<String>,
    /// A group (repeatable): `group:<GROUP>` (a leading `/` is dropped).
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
    /// The username: `user:<USER>`.
    #[arg(long)]
    user: Option<String>,
    /// The token subject: `sub:<SUB>`.
    #[arg(long)]
    sub: Option<String>,
}

impl CallerArgs {
    fn subjects(&self) -> Vec<Subject<'_>> {
        let roles = self
            .roles
            .iter()
            .map(|r| Subject::new(SubjectKind::Role, r));
        let groups = self
            .groups
            .iter()
            .map(|g| Subject::new(SubjectKind::Group, g.strip_prefix('/').unwrap_or(g)));
        let user = self.user.iter().map(|u| Subject::new(SubjectKind::User, u));
        let sub = self.sub.iter().map(|s| Subject::new(SubjectKind::Sub, s));
        roles
            .chain(groups)
            .chain(user)
            .chain(sub)
            .filter(|s| !s.name.is_empty())
            .collect()
    }
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print it, secrets redacted.
    Check,
}

fn load(config: Option<&PathBuf>) -> Result<Settings, ExitCode> {
    Config::load(config.map(PathBuf::as_path))
        .and_then(Settings::from_config)
        .map_err(|e| {
            eprintln!("box-mcp: configuration error: {e}");
            ExitCode::from(2)
        })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match load(cli.config.as_ref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match cli.command {
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            print!("{}", settings.redacted_toml());
            eprintln!("box-mcp: configuration is valid");
            ExitCode::SUCCESS
        }
        Command::Serve {
            exit_on_stdin_close,
        } => run(async move {
            telemetry::init(&settings.raw.log, &settings.raw.trace, LogTarget::Stdout)?;
            let server = Server::bind(settings).await?;
            let shutdown = CancellationToken::new();
            let trigger = shutdown.clone();
            tokio::spawn(async move {
                if exit_on_stdin_close {
                    tokio::select! {
                        _ = shutdown_signal() => {},
                        _ = stdin_closed() => {},
                    }
                } else {
                    shutdown_signal().await;
                }
                tracing::info!("shutting down");
                trigger.cancel();
            });
            let result = server.run(shutdown).await;
            // The batch exporter's last spans, before the process ends.
            tokio::task::spawn_blocking(telemetry::otlp::flush)
                .await
                .ok();
            result
        }),
        Command::Policy {
            model,
            policy,
            command,
        } => {
            let model = model.unwrap_or_else(|| settings.raw.policy.model.clone());
            let policy = policy.unwrap_or_else(|| settings.raw.policy.policy.clone());
            policy_command(&model, &policy, command)
        }
        Command::Stdio => run(async move {
            telemetry::init(&settings.raw.log, &settings.raw.trace, LogTarget::Stderr)?;
            box_mcp::stdio::serve(settings).await
        }),
    }
}

fn policy_command(model: &Path, policy: &Path, command: PolicyCommand) -> ExitCode {
    let authorizer = match Authorizer::load(model, policy, 0, catalog::policy_tools()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("box-mcp: policy error: {e}");
            return ExitCode::from(2);
        }
    };
    match command {
        PolicyCommand::Validate => {
            let status = authorizer.status();
            for warning in &status.warnings {
                eprintln!("warning: {warning}");
            }
            println!(
                "{} and {} are valid: {} rules, {} role links",
                status.model, status.policy, status.rules, status.role_links
            );
            ExitCode::SUCCESS
        }
        PolicyCommand::Check { caller, tool } => {
            let (tool, action) = match authz::parse_tool(&tool, authorizer.tools()) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("box-mcp: {e}");
                    return ExitCode::from(2);
                }
            };
            let subjects = caller.subjects();
            let decision = authorizer.decide_subjects(subjects.iter().copied(), &tool, action);
            println!("{} {tool} ({})", decision.verdict(), action.as_str());
            println!(
                "  subjects: {}",
                listed(subjects.iter().map(|s| s.to_string()))
            );
            println!(
                "  the policy names: {}",
                listed(decision.subjects.iter().cloned())
            );
            match (&decision.rule, decision.line) {
                (Some(rule), Some(line)) => println!("  {}:{line}: {rule}", policy.display()),
                _ => println!("  {}", no_line(decision.allowed)),
            }
            ExitCode::SUCCESS
        }
        PolicyCommand::Test { table } => match authz::run_table(&authorizer, &table) {
            Ok(report) if report.passed() => {
                println!("{report}");
                ExitCode::SUCCESS
            }
            Ok(report) => {
                println!("{report}");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("box-mcp: {e}");
                ExitCode::from(2)
            }
        },
        PolicyCommand::Tools { caller, all } => {
            let subjects = caller.subjects();
            let decisions = authorizer.for_subjects(subjects.iter().copied());
            let width = catalog::ALL.iter().map(|t| t.name.len()).max().unwrap_or(0);
            let mut allowed = 0;
            for tool in catalog::ALL {
                let decision = decisions.decide(tool.name, tool.action);
                allowed += usize::from(decision.allowed);
                if !decision.allowed && !all {
                    continue;
                }
                let why = match (&decision.rule, decision.line) {
                    (Some(rule), Some(line)) => format!("line {line}: {rule}"),
                    _ => no_line(decision.allowed).to_string(),
                };
                println!(
                    "{:<5} {:<width$}  {:<6}  {why}",
                    decision.verdict(),
                    tool.name,
                    tool.action.as_str(),
                );
            }
            eprintln!(
                "{allowed} of {} tools for {}",
                catalog::ALL.len(),
                listed(subjects.iter().map(|s| s.to_string()))
            );
            ExitCode::SUCCESS
        }
    }
}

/// Why a decision has no deciding line.
fn no_line(allowed: bool) -> &'static str {
    if allowed {
        "no policy line denies it"
    } else {
        "no policy line allows it"
    }
}

fn listed(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    if items.is_empty() {
        "(none)".to_string()
    } else {
        items.join(" ")
    }
}

fn run(future: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("box-mcp: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(future) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("box-mcp: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn stdin_closed() {
    use tokio::io::AsyncReadExt;
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while let Ok(n) = stdin.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}
