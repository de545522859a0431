//! Gateway API's HTTPRoute shape: the top-level `hostnames`, `parentRefs`, `namespace` and `rules`;
//! each rule compiles into the same [`Entry`] as an `http[]` entry (through [`entry::assemble`], so
//! every traffic-shift extension carries over).

use super::cohort::label;
use super::entry::{self, Targets, EXTENSIONS};
use super::error::{ConfigError, ConfigResult};
use super::gateway_match::matches;
use super::names::check_cluster_name;
use super::path::JsonPath;
use super::read::{self, Schema};
use super::Settings;
use crate::hosts::HostContext;
use crate::request::Attributes;
use crate::router::{Entry, Router};
use crate::template::{ClusterNameTemplate, Destination};
use serde_json::{Map, Value};

const API: &str = "HTTPRoute";

const RULE: Schema = Schema {
    known: &["name", "matches", "backendRefs"],
    not_implemented: &["filters", "timeouts", "retry", "sessionPersistence"],
};

const BACKEND_REF: Schema = Schema {
    known: &["group", "kind", "name", "namespace", "port", "weight"],
    not_implemented: &["filters"],
};

/// Gateway API's largest weight.
const MAX_WEIGHT: u64 = 1_000_000;

/// A Kubernetes name that becomes a DNS label of the destination host (RFC 1123 label).
fn dns_label<'v>(value: &'v Value, path: &JsonPath<'_>, what: &str) -> ConfigResult<&'v str> {
    let text = read::non_empty_string(value, path)?;
    let valid = text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-');
    if !valid {
        return Err(ConfigError::at(
            path,
            format!("\"{text}\" is not a valid {what} name (lowercase letters, digits and \"-\", at most 63)"),
        ));
    }
    Ok(text)
}

/// `group` and `kind` must name the core Service, the only backend a sidecar routes to by name.
fn check_service_kind(map: &Map<String, Value>, path: &JsonPath<'_>) -> ConfigResult<()> {
    for (key, core) in [("group", ""), ("kind", "Service")] {
        if let Some(value) = map.get(key) {
            let at = path.key(key);
            let given = read::string(value, &at)?;
            if given != core {
                return Err(ConfigError::at(
                    &at,
                    format!("traffic-shift routes only to core Services (group \"\", kind Service), not {key} \"{given}\""),
                ));
            }
        }
    }
    Ok(())
}

/// traffic-shift's own key of a backendRef: its version in a `sticky.cohort`.
const BACKEND_REF_EXTENSIONS: &[&str] = &["version"];

/// One backendRef: the Service's cluster name (no subset), its weight (default 1) and its
/// `version` extension.
fn backend_ref(
    value: &Value,
    path: &JsonPath<'_>,
    context: &HostContext<'_>,
    template: &ClusterNameTemplate,
) -> ConfigResult<(String, u32, Destination, Option<String>)> {
    let map = read::object(value, path)?;
    BACKEND_REF.check_as(map, path, API, BACKEND_REF_EXTENSIONS)?;
    check_service_kind(map, path)?;
    let name_path = path.key("name");
    let name = match map.get("name") {
        Some(name) => dns_label(name, &name_path, "Service")?,
        None => {
            return Err(ConfigError::at(
                &name_path,
                "missing; a backendRef names a Service",
            ))
        }
    };
    let namespace = match map.get("namespace") {
        Some(ns) => dns_label(ns, &path.key("namespace"), "namespace")?,
        None => context.namespace,
    };
    let port_path = path.key("port");
    let port = match map.get("port") {
        Some(port) => match read::unsigned(port, &port_path, 65_535)? {
            0 => return Err(ConfigError::at(&port_path, "a port must be 1 to 65535")),
            n => n as u32,
        },
        None => {
            return Err(ConfigError::at(
                &port_path,
                "missing; a backendRef to a Service needs its port",
            ))
        }
    };
    let weight = match map.get("weight") {
        Some(weight) => read::unsigned(weight, &path.key("weight"), MAX_WEIGHT)? as u32,
        None => 1,
    };
    let host = HostContext {
        namespace,
        ..*context
    }
    .fqdn(name);
    let destination = Destination {
        fqdn: host.clone(),
        host,
        subset: None,
        port: Some(port),
    };
    let cluster = template.render(&destination);
    check_cluster_name(&cluster, path)?;
    let version = match map.get("version") {
        Some(version) => Some(label(version, &path.key("version"))?),
        None => None,
    };
    Ok((cluster, weight, destination, version))
}

fn backend_refs(
    value: &Value,
    path: &JsonPath<'_>,
    context: &HostContext<'_>,
    template: &ClusterNameTemplate,
) -> ConfigResult<Targets> {
    let items = read::array(value, path)?;
    if items.is_empty() {
        return Err(ConfigError::at(
            path,
            "needs at least one backendRef (a rule without backends only answers errors)",
        ));
    }
    let mut targets = Targets {
        clusters: Vec::with_capacity(items.len()),
        weights: Vec::with_capacity(items.len()),
        destinations: Vec::with_capacity(items.len()),
        versions: Vec::with_capacity(items.len()),
        port_holes: Vec::new(),
    };
    for (index, item) in items.iter().enumerate() {
        let (cluster, weight, destination, version) =
            backend_ref(item, &path.index(index), context, template)?;
        targets.clusters.push(cluster);
        targets.weights.push(weight);
        targets.destinations.push(destination);
        targets.versions.push(version);
    }
    // Unlike Istio, a lone backend keeps its weight: weight 0 means no traffic, refused below.
    Ok(targets)
}

/// One rule; `context`'s namespace is the default for its backendRefs.
fn rule(
    value: &Value,
    path: &JsonPath<'_>,
    index: usize,
    context: &HostContext<'_>,
    template: &ClusterNameTemplate,
    attributes: &mut Attributes,
) -> ConfigResult<Entry> {
    let map = read::object(value, path)?;
    RULE.check_as(map, path, API, EXTENSIONS)?;
    let name = match map.get("name") {
        Some(name) => read::non_empty_string(name, &path.key("name"))?.to_string(),
        None => format!("rule-{index}"),
    };
    let rule = match map.get("matches") {
        Some(list) => matches(list, &path.key("matches"), attributes)?,
        None => Default::default(),
    };
    let refs_path = path.key("backendRefs");
    let targets = match map.get("backendRefs") {
        Some(refs) => backend_refs(refs, &refs_path, context, template)?,
        None => {
            return Err(ConfigError::at(
                &refs_path,
                "missing; a rule needs backendRefs",
            ))
        }
    };
    entry::assemble(name, rule, targets, &refs_path, map, path, attributes)
}

/// The HTTPRoute shape's top-level keys of the configuration `map`, into `router`.
pub fn http_route(
    map: &Map<String, Value>,
    root: &JsonPath<'_>,
    settings: &Settings,
    router: &mut Router,
) -> ConfigResult<()> {
    let context = settings.host_context();
    let template = &settings.template;
    if let Some(hostnames) = map.get("hostnames") {
        let hostnames_path = root.key("hostnames");
        let items = read::array(hostnames, &hostnames_path)?;
        // As in Gateway API, no hostnames means every authority.
        if !items.is_empty() {
            let set = super::host_set(items, &hostnames_path, &context)?;
            router.scope_hosts(Some(set));
        }
    }
    if let Some(parents) = map.get("parentRefs") {
        // Where the route attaches: for the filter, where it is loaded (README), so only its form is checked.
        let parents_path = root.key("parentRefs");
        for (index, parent) in read::array(parents, &parents_path)?.iter().enumerate() {
            read::object(parent, &parents_path.index(index))?;
        }
    }
    if let Some(rules) = map.get("rules") {
        let rules_path = root.key("rules");
        let mut names = std::collections::HashSet::new();
        for (index, item) in read::array(rules, &rules_path)?.iter().enumerate() {
            let at = rules_path.index(index);
            let attributes = &mut router.attributes;
            let entry = rule(item, &at, index, &context, template, attributes)?;
            super::push_unique(router, &mut names, entry, &at)?;
        }
    }
    router.scope = None;
    Ok(())
}
