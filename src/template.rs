//! The `clusterName` template: turns a destination into an Envoy cluster name.

/// A destination as written in the configuration (Istio's `Destination`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub host: String,
    /// The host as Istio resolves it: a short name expanded to `name.namespace.svc.<domain>`.
    pub fqdn: String,
    pub subset: Option<String>,
    pub port: Option<u32>,
}

/// A cluster name whose port comes from each request's `:authority`: the rendered pieces between
/// the `{port}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortHoles(Vec<String>);

impl PortHoles {
    /// The cluster name with `port` in every hole.
    pub fn fill(&self, port: u16) -> String {
        let port = port.to_string();
        self.0.join(&port)
    }

    /// Whether `name` is this name with some port (1 to 65535) in its holes: which names a
    /// request can produce, for checks that a decision only names configured clusters.
    pub fn is_filled(&self, name: &[u8]) -> bool {
        let Some((first, holes)) = self.0.split_first() else {
            return false;
        };
        let Some(mut rest) = name.strip_prefix(first.as_bytes()) else {
            return false;
        };
        let mut port: Option<&[u8]> = None;
        for piece in holes {
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            let (this, after) = rest.split_at(digits);
            let valid = std::str::from_utf8(this)
                .ok()
                .and_then(|p| p.parse::<u16>().ok())
                .is_some_and(|p| p != 0 && p.to_string().as_bytes() == this);
            if !valid || port.is_some_and(|p| p != this) {
                return false;
            }
            port = Some(this);
            let Some(after) = after.strip_prefix(piece.as_bytes()) else {
                return false;
            };
            rest = after;
        }
        rest.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Host,
    Fqdn,
    Subset,
    Port,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNameTemplate {
    parts: Vec<Part>,
}

/// Istio's own outbound cluster naming (Istio names clusters by the resolved host).
pub const DEFAULT_TEMPLATE: &str = "outbound|{port}|{subset}|{fqdn}";

impl ClusterNameTemplate {
    /// Fails with a reason on an unknown placeholder or an unbalanced brace.
    pub fn parse(template: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                None => {
                    parts.push(Part::Literal(rest.to_string()));
                    break;
                }
                Some(at) if rest.as_bytes()[at] == b'}' => {
                    return Err(format!(
                        "unbalanced \"}}\" at byte {}",
                        template.len() - rest.len() + at
                    ));
                }
                Some(open) => {
                    if open > 0 {
                        parts.push(Part::Literal(rest[..open].to_string()));
                    }
                    let after = &rest[open + 1..];
                    let close = after
                        .find('}')
                        .ok_or_else(|| "unclosed \"{\"".to_string())?;
                    parts.push(match &after[..close] {
                        "host" => Part::Host,
                        "fqdn" => Part::Fqdn,
                        "subset" => Part::Subset,
                        "port" => Part::Port,
                        other => {
                            return Err(format!(
                                "unknown placeholder \"{{{other}}}\"; use {{host}}, {{fqdn}}, {{subset}} or {{port}}"
                            ))
                        }
                    });
                    rest = &after[close + 1..];
                }
            }
        }
        Ok(ClusterNameTemplate { parts })
    }

    /// The cluster name; a destination without a port gets an empty `{port}`.
    pub fn render(&self, destination: &Destination) -> String {
        self.pieces(destination).concat()
    }

    /// For a destination without a port under a template with `{port}`: the name split where the
    /// request's port goes. `None` when the name does not depend on the request.
    pub fn port_holes(&self, destination: &Destination) -> Option<PortHoles> {
        let needs_port = destination.port.is_none() && self.parts.contains(&Part::Port);
        needs_port.then(|| PortHoles(self.pieces(destination)))
    }

    /// The rendered text between `{port}` placeholders without a port to fill them (one piece
    /// when there is none, or the destination has its own port).
    fn pieces(&self, destination: &Destination) -> Vec<String> {
        let mut pieces = vec![String::new()];
        for part in &self.parts {
            let Some(name) = pieces.last_mut() else {
                continue;
            };
            match part {
                Part::Literal(text) => name.push_str(text),
                Part::Host => name.push_str(&destination.host),
                Part::Fqdn => name.push_str(&destination.fqdn),
                Part::Subset => name.push_str(destination.subset.as_deref().unwrap_or("")),
                Part::Port => match destination.port {
                    Some(port) => name.push_str(&port.to_string()),
                    None => pieces.push(String::new()),
                },
            }
        }
        pieces
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn reviews(subset: Option<&str>, port: Option<u32>) -> Destination {
        Destination {
            host: "reviews".into(),
            fqdn: "reviews.default.svc.cluster.local".into(),
            subset: subset.map(String::from),
            port,
        }
    }

    #[test]
    fn default_template_gives_istio_cluster_names() {
        let template = ClusterNameTemplate::parse(DEFAULT_TEMPLATE).unwrap();
        assert_eq!(
            template.render(&reviews(Some("v1"), Some(9080))),
            "outbound|9080|v1|reviews.default.svc.cluster.local"
        );
        assert_eq!(
            template.render(&reviews(None, None)),
            "outbound|||reviews.default.svc.cluster.local"
        );
    }

    #[test]
    fn literals_are_kept() {
        let short = Destination {
            host: "reviews".into(),
            fqdn: "reviews.default.svc.cluster.local".into(),
            subset: Some("v3".into()),
            port: None,
        };
        let template =
            ClusterNameTemplate::parse("outbound|9080|{subset}|{host}.default.svc.cluster.local")
                .unwrap();
        assert_eq!(
            template.render(&short),
            "outbound|9080|v3|reviews.default.svc.cluster.local"
        );
        let dashed = ClusterNameTemplate::parse("{host}-{subset}").unwrap();
        assert_eq!(dashed.render(&short), "reviews-v3");
        let tag = ClusterNameTemplate::parse("{subset}").unwrap();
        assert_eq!(tag.render(&short), "v3");
    }

    #[test]
    fn host_keeps_the_name_as_written_and_fqdn_expands_it() {
        let own = ClusterNameTemplate::parse("outbound|{port}|{subset}|{host}").unwrap();
        assert_eq!(
            own.render(&reviews(Some("v1"), Some(9080))),
            "outbound|9080|v1|reviews"
        );
        let fqdn = ClusterNameTemplate::parse("{fqdn}").unwrap();
        assert_eq!(
            fqdn.render(&reviews(None, None)),
            "reviews.default.svc.cluster.local"
        );
    }

    #[test]
    fn a_destination_without_port_leaves_holes_for_the_request_port() {
        let template = ClusterNameTemplate::parse(DEFAULT_TEMPLATE).unwrap();
        assert_eq!(template.port_holes(&reviews(Some("v1"), Some(9080))), None);
        let holes = template.port_holes(&reviews(Some("v1"), None)).unwrap();
        assert_eq!(
            holes.fill(9080),
            "outbound|9080|v1|reviews.default.svc.cluster.local"
        );
        let twice = ClusterNameTemplate::parse("{port}-{host}-{port}").unwrap();
        assert_eq!(
            twice.port_holes(&reviews(None, None)).unwrap().fill(80),
            "80-reviews-80"
        );
        let tag = ClusterNameTemplate::parse("{subset}").unwrap();
        assert_eq!(tag.port_holes(&reviews(Some("v1"), None)), None);
    }

    #[test]
    fn refuses_bad_templates() {
        assert!(ClusterNameTemplate::parse("{hots}")
            .unwrap_err()
            .contains("{hots}"));
        assert!(ClusterNameTemplate::parse("a}b")
            .unwrap_err()
            .contains("unbalanced"));
        assert!(ClusterNameTemplate::parse("{host")
            .unwrap_err()
            .contains("unclosed"));
    }
}
