//! traffic-shift: weighted traffic shifting between service subsets, as a proxy-wasm filter or an
//! Envoy dynamic module.
//!
//! The pure core (configuration, matching, weighted and sticky choice, rollout schedule) never
//! touches the host and never learns which shell runs it: `proxy_wasm` talks to Envoy through the
//! proxy-wasm ABI (the wasi build), `dynamic_module` through Envoy's dynamic-module C ABI (the
//! native build).

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
