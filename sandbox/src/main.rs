//! `box-sandbox --listen 127.0.0.1:0 [--seed PATH] [--exit-on-stdin-close]
//! [--token-ttl-secs N] [--refresh-token-ttl-secs N] [--redirect-uri CLIENT_ID=URI]…`
//!
//! Prints one JSON line, `{"message":"listening","addr":"HOST:PORT"}`, on stdout
//! once it accepts calls; logs go to stderr.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use box_sandbox::{Sandbox, SandboxConfig, SeedSource};
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// A local server that speaks the Box API subset box-mcp uses (test and demo only).
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Seed file (default: the builtin fixtures/seed.json).
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Exit when stdin closes (for test harnesses).
    #[arg(long)]
    exit_on_stdin_close: bool,
    /// Lifetime of access tokens, in seconds (Box: 60 minutes).
    #[arg(long, default_value_t = 3600)]
    token_ttl_secs: u64,
    /// Lifetime of the user grants' refresh tokens, in seconds (Box: 60 days).
    #[arg(long, default_value_t = 60 * 86_400)]
    refresh_token_ttl_secs: u64,
    /// Registers a redirect URI for an OAuth 2.0 app of the seed, as
    /// CLIENT_ID=URI (repeatable), e.g. an IdP's broker callback.
    #[arg(long = "redirect-uri", value_name = "CLIENT_ID=URI", value_parser = client_and_uri)]
    redirect_uris: Vec<(String, String)>,
}

fn client_and_uri(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((client, uri)) if !client.is_empty() && !uri.is_empty() => {
            Ok((client.to_string(), uri.to_string()))
        }
        _ => Err(format!("expected CLIENT_ID=URI, got {arg:?}")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("box-sandbox: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("box-sandbox: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), box_sandbox::StartError> {
    let config = SandboxConfig {
        listen: cli.listen,
        seed: cli.seed.map_or(SeedSource::Builtin, SeedSource::Path),
        token_ttl: Duration::from_secs(cli.token_ttl_secs),
        refresh_token_ttl: Duration::from_secs(cli.refresh_token_ttl_secs),
        redirect_uris: cli.redirect_uris,
    };
    let sandbox = Sandbox::start(config).await?;
    // Keys in this order, like box-mcp's own "listening" line.
    println!(
        "{{\"message\":\"listening\",\"addr\":\"{}\"}}",
        sandbox.addr()
    );
    if cli.exit_on_stdin_close {
        tokio::select! {
            _ = shutdown_signal() => {},
            _ = stdin_closed() => {},
        }
    } else {
        shutdown_signal().await;
    }
    sandbox.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
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
