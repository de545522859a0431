//! Entry points shared by the fuzz targets (fuzz_targets/) and the bounded smoke test that `make test`
//! runs (tests/fuzz_smoke.rs, through the crate's dev-dependency on this one, without libFuzzer).

// Harness code, as tests/*.rs: a panic is how a failing input is reported, as in libFuzzer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod checks;
pub mod config_target;
pub mod cursor;
pub mod huge_config;
pub mod mutate;
pub mod regex_target;
pub mod request_target;
pub mod rich_config;
// The dynamic-module shell exists in native builds only.
#[cfg(not(target_family = "wasm"))]
pub mod shell_target;
pub mod sources;

pub use config_target::config;
pub use huge_config::huge_config;
pub use request_target::request;
#[cfg(not(target_family = "wasm"))]
pub use shell_target::{shell_config, shell_request};
