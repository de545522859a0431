//! One request: the kernel's hooks on the proxy-wasm ABI.

use super::host::{Answer, HostRequest};
use super::Shared;
use crate::random::SplitMix64;
use crate::shell::Stream;
use ::proxy_wasm::traits::{Context, HttpContext};
use ::proxy_wasm::types::Action;
use std::cell::RefCell;
use std::rc::Rc;

pub struct ShiftRequest {
    shared: Rc<Shared>,
    random: Rc<RefCell<SplitMix64>>,
    stream: Stream,
}

impl ShiftRequest {
    pub fn new(shared: Rc<Shared>, random: Rc<RefCell<SplitMix64>>) -> Self {
        ShiftRequest {
            shared,
            random,
            stream: Stream::default(),
        }
    }
}

impl Context for ShiftRequest {}

impl HttpContext for ShiftRequest {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let shared = &self.shared;
        let request = HostRequest::new(shared.whole_header_map);
        // try_borrow_mut cannot fail (one request runs at a time on a VM), but must never trap.
        let mut random = self.random.try_borrow_mut().ok();
        self.stream = shared
            .kernel
            .on_request(&shared.router, &request, random.as_deref_mut());
        if self.stream.answered_locally {
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let shared = &self.shared;
        shared
            .kernel
            .on_response(&shared.router, &mut self.stream, &Answer);
        Action::Continue
    }
}
