//! Entry points shared by the fuzz targets (fuzz_targets/) and the bounded smoke test that `make test`
//! runs (tests/fuzz_smoke.rs includes this file by path). Only `traffic_shift`, `serde_json` and std are
//! used, and modules refer to each other with `super::`, so the same files compile in both crates.

pub mod checks;
pub mod config_target;
pub mod cursor;
// The dynamic-module shell exists in native builds only.
#[cfg(not(target_family = "wasm"))]
pub mod fake_envoy;
pub mod fake_request;
pub mod huge_config;
pub mod mutate;
pub mod regex_target;
pub mod request_target;
pub mod rich_config;
#[cfg(not(target_family = "wasm"))]
pub mod shell_target;

pub use config_target::config;
pub use huge_config::huge_config;
pub use request_target::request;
#[cfg(not(target_family = "wasm"))]
pub use shell_target::{shell_config, shell_request};
