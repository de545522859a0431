//! A request as plain data: what `Router::decide` reads, and the order it read it in.

use crate::request::RequestSource;
use std::borrow::Cow;
use std::cell::RefCell;

/// The name that gives [`FakeRequest::new`] the route name (`xds.route_name`) instead of a header.
pub const ROUTE_NAME: &str = "@route";

/// Headers as given (a name may repeat: a repeated header, first value first) and a route name;
/// every read is remembered in order, so tests can assert which host reads a decision makes.
#[derive(Debug, Default)]
pub struct FakeRequest<'a> {
    headers: Vec<(&'a str, &'a [u8])>,
    route_name: Option<&'a [u8]>,
    /// Names read so far: a header's first value `name`, its later values `+name`, the route name
    /// [`ROUTE_NAME`].
    reads: RefCell<Vec<String>>,
}

impl<'a> FakeRequest<'a> {
    /// A request of these (name, value) pairs; a pair named [`ROUTE_NAME`] gives the route name.
    pub fn new(pairs: &[(&'a str, &'a [u8])]) -> Self {
        let mut request = FakeRequest::default();
        for (name, value) in pairs {
            if *name == ROUTE_NAME {
                request.route_name = Some(value);
            } else {
                request.headers.push((name, value));
            }
        }
        request
    }

    /// The same request with this route name (`None`: without one).
    pub fn with_route_name(mut self, route_name: Option<&'a [u8]>) -> Self {
        self.route_name = route_name;
        self
    }

    /// The headers, in the order given.
    pub fn headers(&self) -> &[(&'a str, &'a [u8])] {
        &self.headers
    }

    /// The route name, read without being remembered as a read.
    pub fn route(&self) -> Option<&'a [u8]> {
        self.route_name
    }

    /// The names read so far, in order (a later values' read is `+name`).
    pub fn fetched(&self) -> Vec<String> {
        self.reads.borrow().clone()
    }

    fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        self.headers
            .iter()
            .filter(move |(known, _)| *known == name)
            .map(|(_, value)| *value)
    }

    fn remember(&self, name: String) {
        self.reads.borrow_mut().push(name);
    }
}

impl RequestSource for FakeRequest<'_> {
    fn header(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        self.remember(name.to_string());
        self.values(name).next().map(Cow::Borrowed)
    }

    fn any_later_value(&self, name: &str, test: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        self.remember(format!("+{name}"));
        self.values(name).skip(1).any(test)
    }

    fn route_name(&self) -> Option<Cow<'_, [u8]>> {
        self.remember(ROUTE_NAME.to_string());
        self.route_name.map(Cow::Borrowed)
    }
}
