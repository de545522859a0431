//! The top-level `hosts` list: which request authorities the entries apply to.
//!
//! As in a sidecar's view of a VirtualService, a Kubernetes service name matches its other forms:
//! `reviews`, `reviews.default`, `reviews.default.svc` and `reviews.default.svc.cluster.local`
//! are one service. `*` matches everything and `*.example.com` any subdomain of example.com.

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    /// `*.example.com` stored as `.example.com`.
    Suffix(String),
    /// Any other name, lowercase.
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostSet {
    patterns: Vec<HostPattern>,
}

/// A Kubernetes service name split into service and optional namespace, when it has that shape.
/// Labels are compared ignoring ASCII case, so the authority is never copied to lowercase it.
fn service_and_namespace(host: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let mut labels = host.split(|b| *b == b'.');
    let service = labels.next()?;
    let Some(namespace) = labels.next() else {
        return Some((service, None));
    };
    let is =
        |label: Option<&[u8]>, word: &[u8]| label.is_some_and(|l| l.eq_ignore_ascii_case(word));
    let rest = [labels.next(), labels.next(), labels.next()];
    let shaped = match rest {
        [None, ..] => true,
        [svc, None, _] => is(svc, b"svc"),
        [svc, cluster, local] => {
            is(svc, b"svc")
                && is(cluster, b"cluster")
                && is(local, b"local")
                && labels.next().is_none()
        }
    };
    shaped.then_some((service, Some(namespace)))
}

fn same_service(pattern: &str, authority: &str) -> bool {
    if pattern.eq_ignore_ascii_case(authority) {
        return true;
    }
    match (
        service_and_namespace(pattern.as_bytes()),
        service_and_namespace(authority.as_bytes()),
    ) {
        (Some((a, a_ns)), Some((b, b_ns))) => {
            a.eq_ignore_ascii_case(b)
                && match (a_ns, b_ns) {
                    (Some(a_ns), Some(b_ns)) => a_ns.eq_ignore_ascii_case(b_ns),
                    _ => true,
                }
        }
        _ => false,
    }
}

/// Whether `host` ends with `suffix`, ignoring ASCII case.
fn ends_with_ignoring_case(host: &str, suffix: &str) -> bool {
    let (host, suffix) = (host.as_bytes(), suffix.as_bytes());
    host.len() >= suffix.len() && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// The host part of an authority, port removed, a slice of it in the case it was sent (compare it
/// ignoring ASCII case). `None` when it is not text.
pub fn authority_host(authority: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(authority).ok()?;
    let host = if let Some(bracketed) = text.strip_prefix('[') {
        // IPv6 literal: "[::1]:8080"
        bracketed.split(']').next().unwrap_or(bracketed)
    } else if text.matches(':').count() > 1 {
        // A bare IPv6 address has no port.
        text
    } else {
        text.rsplit_once(':').map_or(text, |(host, _port)| host)
    };
    Some(host.trim_end_matches('.'))
}

impl HostSet {
    /// Validates one entry of `hosts`; the reason is returned for the caller's path.
    pub fn add(&mut self, host: &str) -> Result<(), String> {
        let mut lower = host.to_ascii_lowercase();
        if let Some(inner) = lower.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            lower = inner.to_string();
        }
        if lower.matches(':').count() == 1 {
            return Err(format!(
                "\"{host}\" has a port; hosts are names (any port matches)"
            ));
        }
        let pattern = if lower == "*" {
            HostPattern::Any
        } else if let Some(domain) = lower.strip_prefix("*.") {
            HostPattern::Suffix(format!(".{domain}"))
        } else {
            HostPattern::Name(lower)
        };
        let name = match &pattern {
            HostPattern::Any => "x",
            HostPattern::Suffix(s) => &s[1..],
            HostPattern::Name(n) => n,
        };
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'));
        if !valid {
            return Err(format!("\"{host}\" is not a host name"));
        }
        self.patterns.push(pattern);
        Ok(())
    }

    pub fn matches(&self, authority: &[u8]) -> bool {
        let Some(host) = authority_host(authority) else {
            return false;
        };
        self.patterns.iter().any(|pattern| match pattern {
            HostPattern::Any => true,
            HostPattern::Suffix(suffix) => ends_with_ignoring_case(host, suffix),
            HostPattern::Name(name) => same_service(name, host),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn set(hosts: &[&str]) -> HostSet {
        let mut set = HostSet::default();
        for host in hosts {
            set.add(host).unwrap();
        }
        set
    }

    #[test]
    fn short_name_matches_longer_forms_with_or_without_port() {
        let hosts = set(&["reviews"]);
        for authority in [
            "reviews",
            "reviews:9080",
            "REVIEWS:9080",
            "reviews.default",
            "reviews.default.svc:9080",
            "reviews.default.svc.cluster.local:9080",
        ] {
            assert!(hosts.matches(authority.as_bytes()), "{authority}");
        }
        for authority in ["ratings:9080", "reviews.example.com", "reviewsx", ""] {
            assert!(!hosts.matches(authority.as_bytes()), "{authority}");
        }
    }

    #[test]
    fn long_name_matches_short_authority_of_same_namespace() {
        let hosts = set(&["reviews.default.svc.cluster.local"]);
        assert!(hosts.matches(b"reviews:9080"));
        assert!(hosts.matches(b"reviews.default:9080"));
        assert!(hosts.matches(b"Reviews.DEFAULT.Svc.Cluster.Local"));
        assert!(!hosts.matches(b"reviews.other:9080"));
        assert!(!hosts.matches(b"reviews.default.svc.cluster"));
        assert!(!hosts.matches(b"reviews.default.svc.cluster.local.x"));
    }

    #[test]
    fn wildcards_and_plain_domains() {
        let hosts = set(&["*.example.com", "bookinfo.io"]);
        assert!(hosts.matches(b"api.example.com:443"));
        assert!(hosts.matches(b"API.Example.COM.:443"));
        assert!(set(&["*.Example.com"]).matches(b"a.example.com"));
        assert!(!hosts.matches(b"example.com"));
        assert!(hosts.matches(b"bookinfo.io"));
        assert!(set(&["*"]).matches(b"anything:1"));
    }

    #[test]
    fn ipv6_and_hostile_authorities() {
        for written in ["::1", "[::1]"] {
            let hosts = set(&[written]);
            assert!(hosts.matches(b"[::1]:8080"), "{written}");
            assert!(hosts.matches(b"[::1]"), "{written}");
            assert!(hosts.matches(b"::1"), "{written}");
            assert!(!hosts.matches(b"[::2]:8080"), "{written}");
        }
        assert!(HostSet::default().add("[::1]:80").is_err());
        assert!(HostSet::default()
            .add("reviews:9080")
            .unwrap_err()
            .contains("port"));
        assert!(!set(&["reviews"]).matches(b"rev\xffiews:9080"));
        assert!(set(&["reviews"]).add("re views").is_err());
    }
}
