//! Requests the fuzz entry points hand to `Router::decide`, as plain data.

use traffic_shift::request::RequestSource;

/// Named headers (first one of a name wins, as Envoy joins repeats before the filter sees them) and
/// an optional route name.
#[derive(Debug, Default)]
pub struct FakeRequest<'a> {
    pub headers: Vec<(&'static str, &'a [u8])>,
    pub route_name: Option<&'a [u8]>,
}

impl RequestSource for FakeRequest<'_> {
    fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.headers
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, value)| value.to_vec())
    }

    fn route_name(&self) -> Option<Vec<u8>> {
        self.route_name.map(<[u8]>::to_vec)
    }
}

/// Answers every header and the route name with one value (None: the request has nothing at all).
/// Lets an arbitrary compiled configuration see every attribute it reads, whatever its names.
pub struct Uniform<'a>(pub Option<&'a [u8]>);

impl RequestSource for Uniform<'_> {
    fn header(&self, _name: &str) -> Option<Vec<u8>> {
        self.0.map(<[u8]>::to_vec)
    }

    fn route_name(&self) -> Option<Vec<u8>> {
        self.0.map(<[u8]>::to_vec)
    }
}
