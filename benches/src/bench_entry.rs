//! `cargo bench -p sdk-benches`: runs the harness binary (`all --quick` unless arguments are
//! given after `--`).

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let args = if args.is_empty() {
        vec!["all".to_string(), "--quick".to_string()]
    } else {
        args
    };
    match Command::new(env!("CARGO_BIN_EXE_sdk-benches"))
        .args(&args)
        .status()
    {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("cannot start the benchmark binary: {e}");
            ExitCode::FAILURE
        }
    }
}
