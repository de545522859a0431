//! The no-op filter: every request and response passes with `Continue`, nothing read or written.
//! Envoy still calls into the VM for each stream event, which is the cost being measured.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

struct Noop;

impl Context for Noop {}

impl HttpContext for Noop {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        Action::Continue
    }
}

proxy_wasm::main! {{
    proxy_wasm::set_http_context(|_, _| -> Box<dyn HttpContext> { Box::new(Noop) });
}}
