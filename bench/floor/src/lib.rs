//! The floor for a filter of this design: on each request, set the cluster header to one of two
//! clusters at random and let a `cluster_header` route send it there. Nothing is read from the request,
//! nothing is counted. Any Wasm filter that routes this way pays at least this much.
//!
//! Plugin configuration, as plain text: `<header> <cluster-a> <cluster-b>`.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};
use std::cell::Cell;
use std::rc::Rc;

#[derive(Default)]
struct Choice {
    header: String,
    clusters: [String; 2],
    /// xorshift64 state, shared by the VM's requests (one thread).
    state: Cell<u64>,
}

impl Choice {
    fn next_cluster(&self) -> &str {
        let mut x = self.state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state.set(x);
        &self.clusters[(x >> 63) as usize]
    }
}

struct Root(Rc<Choice>);

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let text = self.get_plugin_configuration().unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let words: Vec<&str> = text.split_whitespace().collect();
        let [header, a, b] = words[..] else {
            log::error!("floor: expected `<header> <cluster-a> <cluster-b>`, got {text:?}");
            return false;
        };
        self.0 = Rc::new(Choice {
            header: header.to_string(),
            clusters: [a.to_string(), b.to_string()],
            state: Cell::new(0x9e37_79b9_7f4a_7c15),
        });
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Request(Rc::clone(&self.0))))
    }
}

struct Request(Rc<Choice>);

impl Context for Request {}

impl HttpContext for Request {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.set_http_request_header(&self.0.header, Some(self.0.next_cluster()));
        Action::Continue
    }
}

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root(Rc::default())) });
}}
