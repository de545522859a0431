//! The `clusterName` template: turns a destination into an Envoy cluster name.

/// A destination as written in the configuration (Istio's `Destination`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub host: String,
    pub subset: Option<String>,
    pub port: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Host,
    Subset,
    Port,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNameTemplate {
    parts: Vec<Part>,
}

/// Istio's own outbound cluster naming.
pub const DEFAULT_TEMPLATE: &str = "outbound|{port}|{subset}|{host}";

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
                        "subset" => Part::Subset,
                        "port" => Part::Port,
                        other => {
                            return Err(format!(
                                "unknown placeholder \"{{{other}}}\"; use {{host}}, {{subset}} or {{port}}"
                            ))
                        }
                    });
                    rest = &after[close + 1..];
                }
            }
        }
        Ok(ClusterNameTemplate { parts })
    }

    pub fn render(&self, destination: &Destination) -> String {
        let mut name = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => name.push_str(text),
                Part::Host => name.push_str(&destination.host),
                Part::Subset => name.push_str(destination.subset.as_deref().unwrap_or("")),
                Part::Port => {
                    if let Some(port) = destination.port {
                        name.push_str(&port.to_string());
                    }
                }
            }
        }
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn reviews(subset: Option<&str>, port: Option<u32>) -> Destination {
        Destination {
            host: "reviews.default.svc.cluster.local".into(),
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
