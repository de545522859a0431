//! Host names the way Istio reads them: which request authorities a `hosts` list applies to, and
//! the fully qualified name a short destination host stands for.
//!
//! A Kubernetes service is reached by several names. An Istio sidecar in namespace `ns` lists, in
//! the virtual host of service `reviews.ns.svc.cluster.local`, the domains `reviews`, `reviews.ns`,
//! `reviews.ns.svc` and the full name (and the full name with a trailing dot), each with any port;
//! a sidecar in another namespace lists all but the bare `reviews`. A `hosts` entry matches exactly
//! those forms, taking the configuration's `namespace` as the client's namespace (a WasmPlugin
//! applies to the workloads of its own namespace). Nothing else matches: `reviews.com`,
//! `reviews.attacker:9080` and `reviews:abc` are not the service. Any other dotted name matches as
//! written (with any port); `*` matches everything and `*.example.com` any subdomain.

use std::collections::HashSet;

/// The namespace a configuration applies to when it names none.
pub const DEFAULT_NAMESPACE: &str = "default";
/// Kubernetes' default cluster domain (kubelet's `--cluster-domain`).
pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";

/// Where short names are resolved: the configuration's namespace and the cluster domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostContext<'a> {
    pub namespace: &'a str,
    pub domain: &'a str,
}

impl Default for HostContext<'_> {
    fn default() -> Self {
        HostContext {
            namespace: DEFAULT_NAMESPACE,
            domain: DEFAULT_CLUSTER_DOMAIN,
        }
    }
}

impl HostContext<'_> {
    /// Istio's `ResolveShortnameToFQDN`: a name without a dot is a service of this namespace;
    /// anything else (dotted names, IP addresses) is kept as written.
    pub fn fqdn(&self, host: &str) -> String {
        if host.contains(['.', ':']) || host == "*" {
            host.to_string()
        } else {
            format!("{host}.{}.svc.{}", self.namespace, self.domain)
        }
    }

    /// `name` and `namespace` when `host` is `name.namespace.svc.<domain>` (ASCII case ignored).
    fn service_of<'h>(&self, host: &'h str) -> Option<(&'h str, &'h str)> {
        let (name, rest) = host.split_once('.')?;
        let (namespace, rest) = rest.split_once('.')?;
        let domain = strip_prefix_ignoring_case(rest, "svc.")?;
        let plain = |label: &str| !label.is_empty() && !label.contains(':');
        (domain.eq_ignore_ascii_case(self.domain) && plain(name) && plain(namespace))
            .then_some((name, namespace))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    /// `*.example.com` stored as `.example.com`.
    Suffix(String),
    /// A Kubernetes service, matched in the forms a sidecar lists for it.
    Service {
        name: String,
        namespace: String,
        /// `.svc.<domain>`
        svc_domain: String,
        /// Whether the bare name is one of its forms (the client's namespace is the service's).
        bare: bool,
    },
    /// Any other name, lowercase, matched as written.
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostSet {
    patterns: Vec<HostPattern>,
}

/// The hosts of one list added so far, as written (lowercase), to refuse duplicates as Istio does;
/// needed only while the list is read.
pub type Written = HashSet<String>;

fn strip_prefix_ignoring_case<'h>(text: &'h str, prefix: &str) -> Option<&'h str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Whether `host` ends with `suffix`, ignoring ASCII case.
fn ends_with_ignoring_case(host: &str, suffix: &str) -> bool {
    let (host, suffix) = (host.as_bytes(), suffix.as_bytes());
    host.len() >= suffix.len() && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// A port as HTTP writes it: one to five digits.
fn is_port(port: &str) -> bool {
    (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit())
}

/// An authority's host, in the case it was sent (compare it ignoring ASCII case), and its port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authority<'a> {
    pub host: &'a str,
    /// Written with a trailing dot (an absolute DNS name), which the host no longer carries.
    pub absolute: bool,
    pub port: Option<&'a str>,
}

/// Splits an authority into host and port. `None` when it is not text or its port is not a port
/// (`reviews:abc`, `reviews:`): such an authority names no service.
pub fn authority(authority: &[u8]) -> Option<Authority<'_>> {
    let text = std::str::from_utf8(authority).ok()?;
    let (host, port) = if let Some(bracketed) = text.strip_prefix('[') {
        // IPv6 literal: "[::1]:8080"
        let (host, after) = bracketed.split_once(']')?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else if text.matches(':').count() > 1 {
        // A bare IPv6 address has no port.
        (text, None)
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    if port.is_some_and(|p| !is_port(p)) {
        return None;
    }
    let (host, absolute) = match host.strip_suffix('.') {
        Some(host) => (host, true),
        None => (host, false),
    };
    (!host.is_empty()).then_some(Authority {
        host,
        absolute,
        port,
    })
}

/// The authority's port as a number, when it has a valid one (1 to 65535).
pub fn authority_port(value: &[u8]) -> Option<u16> {
    port_number(authority(value)?.port?)
}

/// An authority's port as a number; `None` for 0 or one beyond 65535.
pub fn port_number(port: &str) -> Option<u16> {
    port.parse::<u16>().ok().filter(|p| *p != 0)
}

/// Whether `host` (an authority's host) is one of the forms a sidecar lists for the service.
fn is_service_form(
    host: &str,
    absolute: bool,
    name: &str,
    namespace: &str,
    svc_domain: &str,
    bare: bool,
) -> bool {
    let Some(rest) = strip_prefix_ignoring_case(host, name) else {
        return false;
    };
    if rest.is_empty() {
        return bare && !absolute;
    }
    let Some(rest) = rest
        .strip_prefix('.')
        .and_then(|rest| strip_prefix_ignoring_case(rest, namespace))
    else {
        return false;
    };
    if rest.is_empty() || rest.eq_ignore_ascii_case(".svc") {
        return !absolute;
    }
    rest.eq_ignore_ascii_case(svc_domain)
}

/// A name Istio's `ValidateWildcardDomain` accepts without its wildcard: dot-separated labels of
/// letters, digits and `-` (not first or last), each 1 to 63 long, 255 in all. `_` is accepted too,
/// as before (some DNS names carry it).
fn is_dns_name(name: &str, underscore: bool) -> bool {
    name.len() <= 255
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || (underscore && b == b'_'))
        })
}

/// Validates a destination's `host` as Istio does: a short name or an FQDN; no wildcard, no
/// `namespace/` prefix, no port.
pub fn check_destination_host(host: &str) -> Result<(), String> {
    if host.contains('*') {
        return Err(format!(
            "\"{host}\" is a wildcard; a destination names one service (a short name or an FQDN)"
        ));
    }
    if host.contains('/') {
        return Err(format!(
            "\"{host}\" has a \"/\"; a destination host is a name (e.g. reviews or reviews.prod.svc.cluster.local), not namespace/name"
        ));
    }
    if !is_dns_name(host, false) {
        return Err(format!(
            "\"{host}\" is not a valid host name (DNS labels of letters, digits and \"-\", joined by \".\")"
        ));
    }
    Ok(())
}

/// Istio's `host.Name.Matches` on the hosts as written: equal, or one wildcard covering the other.
/// Hashed: each host's suffixes are looked up, so n hosts cost O(n × labels).
fn overlaps_earlier(written: &HashSet<String>, host: &str) -> Option<String> {
    if written.contains(host) {
        return Some(host.to_string());
    }
    if written.contains("*") {
        return Some("*".to_string());
    }
    if host == "*" {
        return written.iter().next().cloned();
    }
    // A wildcard earlier that covers this host, at any depth.
    let bare = host.strip_prefix("*.").unwrap_or(host);
    let mut rest = bare;
    while let Some((_, parent)) = rest.split_once('.') {
        let wildcard = format!("*.{parent}");
        if wildcard != host && written.contains(&wildcard) {
            return Some(wildcard);
        }
        rest = parent;
    }
    if let Some(domain) = host.strip_prefix("*.") {
        // This wildcard covers an earlier host: scan once (only wildcards pay it).
        let suffix = format!(".{domain}");
        return written
            .iter()
            .find(|earlier| earlier.ends_with(&suffix))
            .cloned();
    }
    None
}

impl HostSet {
    /// Validates one entry of `hosts` (`written`: the list's earlier ones); the reason is returned
    /// for the caller's path.
    pub fn add(
        &mut self,
        host: &str,
        context: &HostContext<'_>,
        written: &mut Written,
    ) -> Result<(), String> {
        let mut lower = host.to_ascii_lowercase();
        if let Some(inner) = lower.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            lower = inner.to_string();
        }
        if lower.matches(':').count() == 1 || (lower.starts_with('[') && lower.contains("]:")) {
            return Err(format!(
                "\"{host}\" has a port; hosts are names (any port matches)"
            ));
        }
        if lower.contains('/') {
            return Err(format!(
                "\"{host}\" has a \"/\"; the namespace/host form belongs to a Sidecar's or Gateway's hosts, not a VirtualService's"
            ));
        }
        let ipv6 = lower.contains(':');
        let pattern = if lower == "*" {
            HostPattern::Any
        } else if let Some(domain) = lower.strip_prefix("*.") {
            HostPattern::Suffix(format!(".{domain}"))
        } else if ipv6 {
            HostPattern::Name(lower.clone())
        } else if !lower.contains('.') {
            HostPattern::Service {
                name: lower.clone(),
                namespace: context.namespace.to_string(),
                svc_domain: format!(".svc.{}", context.domain),
                bare: true,
            }
        } else if let Some((name, namespace)) = context.service_of(&lower) {
            HostPattern::Service {
                name: name.to_string(),
                namespace: namespace.to_string(),
                svc_domain: format!(".svc.{}", context.domain),
                bare: namespace == context.namespace,
            }
        } else {
            HostPattern::Name(lower.clone())
        };
        let valid = match &pattern {
            HostPattern::Any => true,
            HostPattern::Suffix(suffix) => is_dns_name(&suffix[1..], true),
            HostPattern::Name(name) if ipv6 => name
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.')),
            _ => is_dns_name(&lower, true),
        };
        if !valid {
            return Err(format!("\"{host}\" is not a host name"));
        }
        if let Some(earlier) = overlaps_earlier(written, &lower) {
            return Err(format!(
                "\"{host}\" duplicates \"{earlier}\", listed earlier; each host is listed once (as Istio requires)"
            ));
        }
        written.insert(lower);
        self.patterns.push(pattern);
        Ok(())
    }

    pub fn matches(&self, value: &[u8]) -> bool {
        let Some(Authority { host, absolute, .. }) = authority(value) else {
            return false;
        };
        self.patterns.iter().any(|pattern| match pattern {
            HostPattern::Any => true,
            HostPattern::Suffix(suffix) => ends_with_ignoring_case(host, suffix),
            HostPattern::Service {
                name,
                namespace,
                svc_domain,
                bare,
            } => is_service_form(host, absolute, name, namespace, svc_domain, *bare),
            HostPattern::Name(name) => name.eq_ignore_ascii_case(host),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn set_in(namespace: &str, domain: &str, hosts: &[&str]) -> HostSet {
        let context = HostContext { namespace, domain };
        let (mut set, mut written) = (HostSet::default(), Written::default());
        for host in hosts {
            set.add(host, &context, &mut written).unwrap();
        }
        set
    }

    fn set(hosts: &[&str]) -> HostSet {
        set_in(DEFAULT_NAMESPACE, DEFAULT_CLUSTER_DOMAIN, hosts)
    }

    fn check(hosts: &HostSet, accepted: &[&str], refused: &[&str]) {
        for authority in accepted {
            assert!(hosts.matches(authority.as_bytes()), "accepted: {authority}");
        }
        for authority in refused {
            assert!(!hosts.matches(authority.as_bytes()), "refused: {authority}");
        }
    }

    /// What a sidecar in `default` lists for reviews.default.svc.cluster.local, with and without
    /// a port, in any case; and what it never lists.
    #[test]
    fn short_name_matches_the_forms_a_sidecar_lists_and_nothing_else() {
        check(
            &set(&["reviews"]),
            &[
                "reviews",
                "reviews:9080",
                "REVIEWS:9080",
                "reviews.default",
                "reviews.default:9080",
                "reviews.default.svc",
                "reviews.default.svc:9080",
                "reviews.default.svc.cluster.local",
                "reviews.default.svc.cluster.local:9080",
                "Reviews.Default.SVC.Cluster.Local:80",
                "reviews.default.svc.cluster.local.",
                "reviews.default.svc.cluster.local.:9080",
            ],
            &[
                "reviews.com",
                "reviews.attacker:9080",
                "reviews.io:443",
                "reviews.other",
                "reviews.other.svc.cluster.local",
                "reviews.default.svc.cluster",
                "reviews.default.svc.cluster.local.x",
                "reviews.default.svc.example.com",
                "reviews.default.cluster.local",
                "reviews.",
                "reviews.default.",
                "reviews:abc",
                "reviews:",
                "reviews:123456",
                "reviewsx",
                "xreviews",
                "ratings:9080",
                "",
                ":9080",
                "rev\u{00ff}iews",
            ],
        );
        assert!(!set(&["reviews"]).matches(b"rev\xffiews:9080"));
    }

    #[test]
    fn short_name_uses_the_configured_namespace_and_cluster_domain() {
        check(
            &set_in("prod", "corp.example", &["reviews"]),
            &[
                "reviews",
                "reviews.prod:9080",
                "reviews.prod.svc",
                "reviews.prod.svc.corp.example:9080",
            ],
            &[
                "reviews.default",
                "reviews.prod.svc.cluster.local",
                "reviews.default.svc.corp.example",
            ],
        );
    }

    #[test]
    fn full_name_matches_the_forms_of_a_client_in_the_configured_namespace() {
        let elsewhere = set(&["reviews.prod.svc.cluster.local"]);
        check(
            &elsewhere,
            &[
                "reviews.prod",
                "reviews.prod:9080",
                "reviews.prod.svc",
                "reviews.prod.svc.cluster.local:9080",
                "REVIEWS.PROD.SVC.CLUSTER.LOCAL",
            ],
            &[
                "reviews",
                "reviews:9080",
                "reviews.default",
                "reviews.prod.com",
            ],
        );
        check(
            &set_in(
                "prod",
                DEFAULT_CLUSTER_DOMAIN,
                &["reviews.prod.svc.cluster.local"],
            ),
            &["reviews", "reviews:9080", "reviews.prod.svc:9080"],
            &["reviews.default", "reviews.com"],
        );
        // With another cluster domain, the cluster.local name is just a dotted name.
        check(
            &set_in(
                "default",
                "corp.example",
                &["reviews.default.svc.cluster.local"],
            ),
            &["reviews.default.svc.cluster.local:9080"],
            &["reviews", "reviews.default"],
        );
    }

    #[test]
    fn other_dotted_names_match_as_written_with_any_port() {
        check(
            &set(&["reviews.prod", "bookinfo.io"]),
            &[
                "reviews.prod",
                "reviews.prod:9080",
                "bookinfo.io",
                "BookInfo.IO:443",
                "bookinfo.io.",
            ],
            &[
                "reviews",
                "reviews.prod.svc",
                "reviews.prod.svc.cluster.local",
                "www.bookinfo.io",
                "bookinfo.io.evil",
                "bookinfo.io:x",
            ],
        );
    }

    #[test]
    fn wildcards() {
        check(
            &set(&["*.example.com"]),
            &[
                "api.example.com:443",
                "API.Example.COM.:443",
                "a.b.example.com",
            ],
            &["example.com", "example.com.evil", "api.example.com:https"],
        );
        assert!(set(&["*.Example.com"]).matches(b"a.example.com"));
        check(&set(&["*"]), &["anything:1", "reviews", "[::1]:80"], &[]);
    }

    #[test]
    fn ipv6_addresses() {
        for written in ["::1", "[::1]"] {
            check(
                &set(&[written]),
                &["[::1]:8080", "[::1]", "::1"],
                &["[::2]:8080", "[::1]:x", "[::1"],
            );
        }
    }

    #[test]
    fn refused_hosts() {
        let context = HostContext::default();
        for (host, reason) in [
            ("[::1]:80", "port"),
            ("reviews:9080", "port"),
            ("re views", "not a host name"),
            ("default/reviews", "\"/\""),
            ("foo.ba!r", "not a host name"),
            ("-reviews", "not a host name"),
            ("reviews..default", "not a host name"),
            ("*.", "not a host name"),
            ("foo.*", "not a host name"),
        ] {
            let error = HostSet::default()
                .add(host, &context, &mut Written::default())
                .unwrap_err();
            assert!(error.contains(reason), "{host}: {error}");
        }
    }

    #[test]
    fn duplicates_are_refused_as_istio_refuses_them() {
        let context = HostContext::default();
        for (earlier, later) in [
            ("reviews", "reviews"),
            ("reviews", "Reviews"),
            ("*.foo.com", "bar.foo.com"),
            ("bar.foo.com", "*.foo.com"),
            ("*.com", "*.foo.com"),
            ("*.foo.com", "*.com"),
            ("*", "reviews"),
            ("reviews", "*"),
        ] {
            let (mut hosts, mut written) = (HostSet::default(), Written::default());
            hosts.add(earlier, &context, &mut written).unwrap();
            let error = hosts.add(later, &context, &mut written).unwrap_err();
            assert!(error.contains("duplicates"), "{earlier} {later}: {error}");
        }
        // Different strings for one service are not duplicates to Istio, nor here.
        set(&[
            "reviews",
            "reviews.default.svc.cluster.local",
            "ratings",
            "*.foo.org",
        ]);
    }

    #[test]
    fn short_names_expand_as_istio_resolves_them() {
        let context = HostContext::default();
        assert_eq!(context.fqdn("reviews"), "reviews.default.svc.cluster.local");
        assert_eq!(context.fqdn("reviews.prod"), "reviews.prod");
        assert_eq!(
            context.fqdn("reviews.prod.svc.cluster.local"),
            "reviews.prod.svc.cluster.local"
        );
        let prod = HostContext {
            namespace: "prod",
            domain: "corp.example",
        };
        assert_eq!(prod.fqdn("reviews"), "reviews.prod.svc.corp.example");
    }

    #[test]
    fn destination_hosts_are_checked_as_istio_checks_them() {
        for host in [
            "reviews",
            "reviews.prod.svc.cluster.local",
            "foo.bar",
            "10.0.0.1",
        ] {
            assert_eq!(check_destination_host(host), Ok(()), "{host}");
        }
        for host in [
            "*",
            "foo.*",
            "*.foo.com",
            "default/baz",
            "foo.ba!r",
            "reviews:9080",
            "foo..bar",
            "-foo",
            "foo_bar",
        ] {
            assert!(check_destination_host(host).is_err(), "{host}");
        }
        let long = format!("{}.com", "a".repeat(64));
        assert!(check_destination_host(&long).is_err());
    }

    #[test]
    fn authority_ports() {
        assert_eq!(authority_port(b"reviews:9080"), Some(9080));
        assert_eq!(authority_port(b"[::1]:8080"), Some(8080));
        for value in [
            &b"reviews"[..],
            b"reviews:0",
            b"reviews:65536",
            b"reviews:99999",
            b"reviews:+80",
            b"reviews:",
            b"::1",
        ] {
            assert_eq!(authority_port(value), None, "{value:?}");
        }
    }
}
