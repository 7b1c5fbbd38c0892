//! The `box-mcp` command line. All logic lives in the library.

use std::{path::PathBuf, process::ExitCode};

use box_mcp::{
    config::{Config, Settings},
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
            telemetry::init(&settings.raw.log, LogTarget::Stdout);
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
            server.run(shutdown).await
        }),
        Command::Stdio => run(async move {
            telemetry::init(&settings.raw.log, LogTarget::Stderr);
            box_mcp::stdio::serve(settings).await
        }),
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
