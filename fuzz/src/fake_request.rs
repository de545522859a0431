//! Requests the fuzz entry points hand to `Router::decide`, as plain data.

use std::borrow::Cow;
use traffic_shift::header_block::{serialize, HeaderBlock};
use traffic_shift::request::RequestSource;

/// Named headers (first one of a name wins, as Envoy joins repeats before the filter sees them) and
/// an optional route name.
#[derive(Debug, Default)]
pub struct FakeRequest<'a> {
    pub headers: Vec<(&'static str, &'a [u8])>,
    pub route_name: Option<&'a [u8]>,
}

impl RequestSource for FakeRequest<'_> {
    fn header(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        self.headers
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, value)| Cow::Borrowed(*value))
    }

    fn route_name(&self) -> Option<Cow<'_, [u8]>> {
        self.route_name.map(Cow::Borrowed)
    }
}

/// Answers every header and the route name with one value (None: the request has nothing at all).
/// Lets an arbitrary compiled configuration see every attribute it reads, whatever its names.
pub struct Uniform<'a>(pub Option<&'a [u8]>);

impl RequestSource for Uniform<'_> {
    fn header(&self, _name: &str) -> Option<Cow<'_, [u8]>> {
        self.0.map(Cow::Borrowed)
    }

    fn route_name(&self) -> Option<Cow<'_, [u8]>> {
        self.0.map(Cow::Borrowed)
    }
}

/// The same request as the proxy-wasm shell sees it when it takes the whole header map in one call:
/// its headers serialized as the host hands them over, looked up in place.
pub struct WholeMap<'a> {
    block: HeaderBlock<Vec<u8>>,
    route_name: Option<&'a [u8]>,
}

impl<'a> WholeMap<'a> {
    pub fn of(request: &FakeRequest<'a>) -> Self {
        WholeMap {
            block: HeaderBlock::new(serialize(&request.headers)),
            route_name: request.route_name,
        }
    }
}

impl RequestSource for WholeMap<'_> {
    fn header(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        self.block.get(name).map(Cow::Borrowed)
    }

    fn route_name(&self) -> Option<Cow<'_, [u8]>> {
        self.route_name.map(Cow::Borrowed)
    }
}
