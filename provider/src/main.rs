//! `terraform-provider-galley`: started by Terraform (handshake on stdout), or by a person with
//! `--debug` (serve and print the reattach value) or `--version`.

use galley_provider::server::{self, handshake};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--version" | "-v" | "version") => {
            println!("terraform-provider-galley {}", env!("CARGO_PKG_VERSION"));
            return std::process::ExitCode::SUCCESS;
        }
        Some("--help" | "-h" | "help") => {
            eprint!("{}", handshake::RUN_BY_HAND_MESSAGE);
            return std::process::ExitCode::SUCCESS;
        }
        Some("--debug") => {
            galley_provider::logging::init();
            return run(server::run_debug());
        }
        Some(other) => {
            eprintln!("terraform-provider-galley: unknown argument {other:?}\n");
            eprint!("{}", handshake::RUN_BY_HAND_MESSAGE);
            return std::process::ExitCode::FAILURE;
        }
        None => {}
    }

    let env = match handshake::HandshakeEnv::from_lookup(|k| std::env::var(k).ok()) {
        Ok(env) => env,
        Err(handshake::HandshakeError::NotLaunchedByTerraform) => {
            eprint!("{}", handshake::RUN_BY_HAND_MESSAGE);
            return std::process::ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("terraform-provider-galley: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    galley_provider::logging::init();
    run(server::run_plugin(env))
}

fn run(
    fut: impl std::future::Future<Output = Result<(), server::ServeError>>,
) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("terraform-provider-galley: failed to start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(fut) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "provider stopped with an error");
            eprintln!("terraform-provider-galley: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
