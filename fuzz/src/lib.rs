//! Entry points shared by the fuzz targets (fuzz_targets/) and the bounded smoke test that `make test`
//! runs (tests/fuzz_smoke.rs includes this file by path). Only `traffic_shift`, `serde_json` and std are
//! used, and modules refer to each other with `super::`, so the same files compile in both crates.

pub mod checks;
pub mod config_target;
pub mod cursor;
pub mod fake_request;
pub mod mutate;
pub mod request_target;
pub mod rich_config;

pub use config_target::config;
pub use request_target::request;
