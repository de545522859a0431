//! traffic-shift: weighted traffic shifting between service subsets, as a proxy-wasm filter or an
//! Envoy dynamic module.
//!
//! Three layers, each using only those below it:
//! - the pure core (`config`, `router` and its matching, weighted and sticky choice, `rollout`'s
//!   schedule, engine and guard window) compiles a configuration once and decides per request. It
//!   never touches a host: requests are read through [`request::RequestSource`], time and
//!   randomness are passed in;
//! - `shell`, what both shells do per configuration and per request (strip the client's cluster
//!   header, decide, write the header or name the cluster, count, watch answers for the rollout
//!   guard), behind small host traits;
//! - the shells, ABI glue only: `proxy_wasm` through the proxy-wasm ABI (the wasi build),
//!   [`dynamic_module`] through Envoy's dynamic-module C ABI (native builds).
//!
//! `test_kit` is the tests' shared support, compiled only for tests.

pub mod authority_index;
pub mod cohort;
pub mod config;
pub mod header_block;
pub mod hosts;
pub mod matcher;
pub mod precedence;
pub mod random;
mod re2_syntax;
pub mod request;
pub mod rollout;
pub mod router;
#[cfg(any(target_os = "wasi", not(target_family = "wasm")))]
pub mod shell;
pub mod stat_name;
pub mod sticky;
pub mod string_match;
pub mod template;
#[cfg(any(test, feature = "test-kit"))]
pub mod test_kit;
pub mod weighted;
pub mod whole_regex;

#[cfg(target_os = "wasi")]
mod proxy_wasm;

/// Public so that tests and fuzzing can drive its exported entry points with a fake host.
#[cfg(not(target_family = "wasm"))]
pub mod dynamic_module;
