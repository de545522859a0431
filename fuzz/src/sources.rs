//! Request sources the fuzz entry points decide on beside the test kit's `FakeRequest`.

use std::borrow::Cow;
use traffic_shift::header_block::{serialize, HeaderBlock};
use traffic_shift::request::RequestSource;
use traffic_shift::test_kit::FakeRequest;

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
            block: HeaderBlock::new(serialize(request.headers())),
            route_name: request.route(),
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
