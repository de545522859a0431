//! traffic-shift: weighted traffic shifting between service subsets, as a proxy-wasm filter.
//!
//! The pure core (configuration, matching, weighted and sticky choice, rollout schedule) never
//! touches the host; the `proxy_wasm` module is the thin shell that talks to Envoy through the proxy-wasm ABI.

pub mod authority_index;
pub mod config;
pub mod hosts;
pub mod matcher;
pub mod random;
pub mod request;
pub mod rollout;
pub mod router;
pub mod stat_name;
pub mod sticky;
pub mod string_match;
pub mod template;
pub mod weighted;

#[cfg(target_os = "wasi")]
mod proxy_wasm;
