//! A load-tool child that is only an application on `ari-sdk`: the `app` (`StasisApp`) and
//! `stream` (plain event stream) flows of `ari_bench::load`, without the load tool's own code
//! (command line, the parent, the other implementations), so that its memory is what an
//! application of this kind would have. The load tool starts it; it prints one JSON report as
//! its last line.
//!
//! ```text
//! sdk_app --impl app|stream --app NAME --flows N --in-flight K [--url U --user U --password P
//!         --event-timeout-secs S --deadline-secs S]
//! ```

use std::time::Duration;

use ari_bench::load::{self, FlowConfig};

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sdk_app: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut which = String::from("app");
    let mut c = FlowConfig {
        url: "http://127.0.0.1:8088/ari".into(),
        user: "asterisk".into(),
        password: "asterisk".into(),
        app: format!("ari-bench-sdk-app-{}", std::process::id()),
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
            "--impl" => which = value.clone(),
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
    let mut report = runtime.block_on(async {
        match which.as_str() {
            "app" => load::app::run(&c).await,
            "stream" => load::stream::run(&c).await,
            other => anyhow::bail!("--impl {other}: app or stream"),
        }
    })?;
    drop(runtime);
    report.usage = ari_bench::procstat::current()?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
