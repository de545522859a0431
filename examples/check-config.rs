//! Checks plugin configurations with the filter's own parser, natively:
//! `cargo run --example check-config -- FILE...` exits 0 when every file is accepted and prints
//! the filter's error line (with the file) for each one that is not.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut failed = false;
    for file in std::env::args().skip(1) {
        match std::fs::read(&file) {
            Ok(bytes) => match traffic_shift::config::parse(&bytes) {
                Ok(router) => println!("{file}: ok ({})", router.describe_entries()),
                Err(error) => {
                    println!("{file}: {error}");
                    failed = true;
                }
            },
            Err(error) => {
                println!("{file}: cannot read: {error}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
