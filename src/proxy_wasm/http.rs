//! One request: strip the client's cluster header, decide, set the header, count.

use super::guard;
use super::host::{self, HostRequest};
use super::rollout::Watch;
use super::Shared;
use crate::random::SplitMix64;
use crate::router::Decision;
use ::proxy_wasm::traits::{Context, HttpContext};
use ::proxy_wasm::types::Action;
use std::cell::RefCell;
use std::rc::Rc;

pub struct ShiftRequest {
    shared: Rc<Shared>,
    random: Rc<RefCell<SplitMix64>>,
    decision: Option<Decision>,
    /// Set when the rollout guard counts this request; taken when its answer is counted.
    watch: Option<Watch>,
}

impl ShiftRequest {
    pub fn new(shared: Rc<Shared>, random: Rc<RefCell<SplitMix64>>) -> Self {
        ShiftRequest {
            shared,
            random,
            decision: None,
            watch: None,
        }
    }
}

impl Context for ShiftRequest {}

impl HttpContext for ShiftRequest {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let router = &self.shared.router;
        let request = HostRequest::new(self.shared.whole_header_map);
        // try_borrow_mut cannot fail (one request runs at a time on a VM), but must never trap.
        let decision = match self.random.try_borrow_mut() {
            Ok(mut random) => router.decide(&request, &mut *random),
            Err(_) => None,
        };
        if decision.is_some_and(|d| router.has_no_backend(d)) {
            // A Gateway API rule without backendRefs: answered here, never sent upstream.
            self.send_http_response(500, vec![], None);
            return Action::Pause;
        }
        match decision.and_then(|d| router.cluster(d)) {
            // Replacing drops any value the client sent: a client never picks the upstream.
            Some(cluster) => host::set_request_header(&router.cluster_header, &cluster),
            None => host::remove_request_header_if_present(&request, &router.cluster_header),
        }
        self.shared.counters.count(decision);
        self.decision = decision;
        self.watch = self.shared.rollouts.watch(decision);
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if let Some(watch) = self.watch.take() {
            self.shared
                .rollouts
                .answered(watch, guard::response_failed());
        }
        let router = &self.shared.router;
        if let (Some(header), Some(cluster)) = (
            router.response_header.as_deref(),
            self.decision.and_then(|d| router.cluster(d)),
        ) {
            host::add_response_header(header, &cluster);
        }
        Action::Continue
    }
}

/// Envoy deletes every stream's context: one still watched never saw an answer (reset), a failure.
impl Drop for ShiftRequest {
    fn drop(&mut self) {
        if let Some(watch) = self.watch.take() {
            self.shared.rollouts.answered(watch, true);
        }
    }
}
