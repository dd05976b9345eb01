//! The `main` of the load tool's SDK children (`sdk_app`, `sdk_stream`): one binary per flow,
//! each linking only its own flow, so that a child's memory is what an application of that
//! kind would have. The load tool starts them; each prints one JSON report as its last line.
//!
//! ```text
//! sdk_app|sdk_stream --app NAME --flows N --in-flight K [--url U --user U --password P
//!         --event-timeout-secs S --deadline-secs S]
//! ```

use std::future::Future;
use std::time::Duration;

use super::{ChildReport, FlowConfig};

/// Parses the command line, runs `flow` on tokio's default (multi-thread) runtime, and prints
/// the report with the process's resource usage.
pub fn main<F, Fut>(name: &str, flow: F) -> std::process::ExitCode
where
    F: FnOnce(FlowConfig) -> Fut,
    Fut: Future<Output = anyhow::Result<ChildReport>>,
{
    match run(name, flow) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run<F, Fut>(name: &str, flow: F) -> anyhow::Result<()>
where
    F: FnOnce(FlowConfig) -> Fut,
    Fut: Future<Output = anyhow::Result<ChildReport>>,
{
    let mut c = FlowConfig {
        url: "http://127.0.0.1:8088/ari".into(),
        user: "asterisk".into(),
        password: "asterisk".into(),
        app: format!("ari-bench-{name}-{}", std::process::id()),
        flows: 500,
        in_flight: 20,
        event_timeout: Duration::from_secs(15),
        deadline: Duration::from_secs(240),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let [key, value] = pair else {
            anyhow::bail!("{pair:?}: an option without a value");
        };
        match key.as_str() {
            "--url" => c.url = value.clone(),
            "--user" => c.user = value.clone(),
            "--password" => c.password = value.clone(),
            "--app" => c.app = value.clone(),
            "--flows" => c.flows = value.parse()?,
            "--in-flight" => c.in_flight = value.parse()?,
            "--event-timeout-secs" => c.event_timeout = Duration::from_secs(value.parse()?),
            "--deadline-secs" => c.deadline = Duration::from_secs(value.parse()?),
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut report = runtime.block_on(flow(c))?;
    drop(runtime);
    report.usage = crate::procstat::current()?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
