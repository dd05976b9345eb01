//! A load-tool child that is only an application on `ari-sdk`: the `stream` flow
//! (`ari_bench::load::stream`, the plain event stream), with none of the load tool's own code,
//! so that its memory is what such an application would have (see `ari_bench::load::child`).

fn main() -> std::process::ExitCode {
    ari_bench::load::child::main("sdk_stream", |c| async move {
        ari_bench::load::stream::run(&c).await
    })
}
