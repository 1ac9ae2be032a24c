//! The `gantry` binary. See `gantry --help`.

use clap::Parser;

fn main() {
    // First of all, before tracing, tokio or any thread starts: `gantry` re-executed as
    // the process sandbox's helper builds a sandbox and never returns here (it needs a
    // single-threaded process to create namespaces).
    #[cfg(target_os = "linux")]
    gantry::caps::process::sandbox::helper::main_if_requested();
    // Behave like other command-line tools when stdout is closed early (`| head`).
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GANTRY_LOG")
                // wasmtime-wasi-http warns about each connection a plugin's request
                // loses (`hyper error: …`); the plugin gets that error as the
                // request's answer and its stage log says so, so on the console it is
                // only noise between gantry's lines. `GANTRY_LOG=warn` shows it again.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("warn,wasmtime_wasi_http=error")
                }),
        )
        .without_time()
        .init();
    let cli = match gantry::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                gantry::cli::exit::USAGE
            } else {
                gantry::cli::exit::SUCCESS
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    std::process::exit(gantry::cli::main(cli));
}
