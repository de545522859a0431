//! What the tests share: a request as plain data, a fake Envoy behind the dynamic-module shell, and
//! the realistic configuration the bench measures.
//!
//! Part of the crate (not a crate of its own) so that the unit tests under `src/` implement the
//! crate's own `RequestSource`: a separate crate would see a second copy of `traffic_shift` in
//! them. Compiled into the unit tests, and with the `test-kit` feature into the integration tests,
//! the examples and the fuzz targets (the crate's dev-dependency on itself turns it on for
//! `cargo test`); never into a module Envoy loads.

#[cfg(not(target_family = "wasm"))]
pub mod fake_envoy;
mod fake_request;

pub use fake_request::{FakeRequest, ROUTE_NAME};

/// The configuration `make bench` measures (bench/realistic.json): a `hosts` list and a few
/// header and path matches for special traffic before the 50/50 split ordinary requests take.
pub const REALISTIC: &str = include_str!("../../bench/realistic.json");
