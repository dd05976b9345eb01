//! `ari-mock`: the simulated Asterisk as a process, for tests written in other languages.
//!
//! Prints one line, `ARI_URL=http://127.0.0.1:PORT/ari`, once it listens, then serves until it
//! is killed or its standard input closes (so a test that spawns it cannot leak it).

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use tokio::io::AsyncReadExt as _;

/// A simulated Asterisk REST Interface (REST + events WebSocket) on 127.0.0.1.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// Release to simulate.
    #[arg(long, default_value = "22.10.1")]
    release: String,
    /// Port (0: a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// ARI user.
    #[arg(long, default_value = "asterisk")]
    user: String,
    /// ARI password.
    #[arg(long, default_value = "asterisk")]
    password: String,
    /// Keep serving when standard input closes.
    #[arg(long)]
    ignore_stdin: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mock = match ari_mock::Mock::builder()
        .release(&cli.release)
        .user(&cli.user, &cli.password)
        .addr(([127, 0, 0, 1], cli.port).into())
        .start()
        .await
    {
        Ok(m) => m,
        Err(e) => {
            eprintln!("ari-mock: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "ARI_URL={}", mock.url());
    let _ = out.flush();
    if cli.ignore_stdin {
        std::future::pending::<()>().await;
    }
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 256];
    while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
    ExitCode::SUCCESS
}
