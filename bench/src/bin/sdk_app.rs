//! A load-tool child that is only an application on `ari-sdk`: the `app` flow
//! (`ari_bench::load::app`, a `StasisApp`), with none of the load tool's own code, so that its
//! memory is what such an application would have (see `ari_bench::load::child`).

fn main() -> std::process::ExitCode {
    ari_bench::load::child::main(
        "sdk_app",
        |c| async move { ari_bench::load::app::run(&c).await },
    )
}
