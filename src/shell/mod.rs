//! The shell kernel: what every shell does per configuration and per request, once, behind small
//! host traits, so that `proxy_wasm/` and `dynamic_module/` are the ABI glue alone: strip the
//! client's cluster header, decide, write the header or name the cluster, count, watch the answer
//! for the rollout guard; the counters, the generator's seed and the build information.
//!
//! Compiled only into the shells' targets (it seeds from the OS through `getrandom`); the pure core
//! below it never learns which shell runs it.

use crate::random::RandomSource;
use crate::request::RequestSource;
use crate::rollout::shared::CasStore;
use crate::rollout::{outcome, Engine, Watch};
use crate::router::{Decision, Router};
use crate::stat_name;
use std::borrow::Cow;
use std::sync::Arc;

#[cfg(test)]
mod tests;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_COMMIT: &str = match option_env!("TRAFFIC_SHIFT_GIT_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

/// What a shell logs when Envoy loads it, after the filter's name; `as_what` says which build
/// (" as a dynamic module").
pub fn loaded_line(as_what: &str) -> String {
    format!("{VERSION} (commit {GIT_COMMIT}) loaded{as_what}")
}

/// A seed for the generator from the OS (WASI `random_get` in the Wasm build); `clock_ns` if that
/// fails (spreading load needs no secret), after `warn`.
pub fn entropy_seed(clock_ns: impl FnOnce() -> Option<u128>, warn: impl FnOnce(&str)) -> u64 {
    let mut seed = [0u8; 8];
    if getrandom::getrandom(&mut seed).is_ok() {
        return u64::from_le_bytes(seed);
    }
    warn("no entropy from the host; seeding from the clock");
    clock_ns().map_or(0x2545_f491_4f6c_dd1d, |ns| ns as u64)
}

/// What a filter shell asks of its host for one request.
pub trait FilterHost: RequestSource {
    /// Replaces the request header (whatever the client sent); if the host refuses, removes it.
    fn set_request_header(&self, name: &str, value: &str);
    /// Removes the request header when the client sent it (asking costs less than removing).
    fn remove_request_header_if_present(&self, name: &str);
    fn increment(&self, counter: u64);
    /// Answers the request here with `status` (Envoy's `response.code_details`: `details`).
    fn send_local_reply(&self, status: u32, details: &str);
}

/// What a filter shell asks of its host when the answer's headers pass.
pub trait AnswerHost {
    /// The answer's `:status`.
    fn response_status(&self) -> Option<u64>;
    /// Envoy's `response.code_details`: who answered, or why Envoy did.
    fn response_code_details(&self) -> Option<Vec<u8>>;
    fn add_response_header(&self, name: &str, value: &str);
    fn increment(&self, counter: u64);
}

/// Counter ids as the host gave them out: one per destination of every entry, and the unmatched one.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    per_destination: Vec<Vec<Option<u64>>>,
    unmatched: Option<u64>,
}

impl Counters {
    /// Defined once per configuration (Envoy allows it only then), so requests only increment.
    pub fn define(router: &Router, define: impl FnMut(&str) -> Option<u64>) -> Self {
        let (per_destination, unmatched) = stat_name::define_counters(router, define);
        Counters {
            per_destination,
            unmatched,
        }
    }

    /// The counter a decision adds to.
    pub fn id(&self, decision: Option<Decision>) -> Option<u64> {
        match decision {
            Some(d) => self
                .per_destination
                .get(d.entry)?
                .get(d.destination)
                .copied()
                .flatten(),
            None => self.unmatched,
        }
    }
}

/// One request's state between its hooks.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stream {
    pub decision: Option<Decision>,
    /// Set when the rollout guard counts this request's answer.
    pub watch: Option<Watch>,
    /// The filter answered the request itself: the shell stops the stream's filter chain.
    pub answered_locally: bool,
}

/// What every request of one configuration shares besides the router in force: its counters and
/// its rollouts (empty when it has none).
pub struct Kernel<S> {
    pub counters: Counters,
    pub rollouts: Arc<Engine<S>>,
}

impl<S: CasStore> Kernel<S> {
    /// The filter on the request headers: decide, set the cluster header (which drops any value the
    /// client sent: a client never picks the upstream) or remove the client's, count, watch.
    pub fn on_request<H: FilterHost, R: RandomSource>(
        &self,
        router: &Router,
        host: &H,
        random: Option<&mut R>,
    ) -> Stream {
        let decision = random.and_then(|random| router.decide(host, random));
        if decision.is_some_and(|d| router.has_no_backend(d)) {
            // A Gateway API rule without backendRefs: answered here, never sent upstream.
            host.send_local_reply(500, "traffic_shift_rule_without_backends");
            return Stream {
                decision,
                watch: None,
                answered_locally: true,
            };
        }
        match decision.and_then(|d| router.cluster(d)) {
            Some(cluster) => host.set_request_header(&router.cluster_header, &cluster),
            None => host.remove_request_header_if_present(&router.cluster_header),
        }
        if let Some(counter) = self.counters.id(decision) {
            host.increment(counter);
        }
        Stream {
            decision,
            watch: self.rollouts.watch(decision),
            answered_locally: false,
        }
    }

    /// The filter on the response headers: the guard reads the answer of a watched request (a
    /// stream the client ends first never gets here, so it is not counted), and the response names
    /// the destination when configured.
    pub fn on_response<H: AnswerHost>(&self, router: &Router, stream: &mut Stream, host: &H) {
        if let Some(watch) = stream.watch.take() {
            let answer = outcome(host.response_status(), || host.response_code_details());
            if let Some(counter) = self.rollouts.answered(watch, answer) {
                host.increment(counter);
            }
        }
        if let (Some(header), Some(cluster)) = (
            router.response_header.as_deref(),
            stream.decision.and_then(|d| router.cluster(d)),
        ) {
            host.add_response_header(header, &cluster);
        }
    }

    /// The cluster specifier: the cluster to name (none leaves the route without one) and the
    /// counter to add to.
    pub fn pick<'r, R: RandomSource>(
        &self,
        router: &'r Router,
        request: &impl RequestSource,
        random: Option<&mut R>,
    ) -> (Option<Cow<'r, str>>, Option<u64>) {
        let decision = random.and_then(|random| router.decide(request, random));
        (
            decision.and_then(|d| router.cluster(d)),
            self.counters.id(decision),
        )
    }
}
