//! Configurations that hold HTTPRoutes as Kubernetes keeps them: one whole object (what
//! `kubectl get httproute reviews -o json` prints), or a list of whole objects or of bare specs, all
//! for the one parent the filter runs in. Their rules are matched across routes in Gateway API's
//! precedence ([`crate::precedence`]); ties between routes go to the oldest
//! (`metadata.creationTimestamp`), then by `{namespace}/{name}`, then (for specs, which have no
//! metadata) by their place in the list.

use super::error::{ConfigError, ConfigResult};
use super::gateway::{self, dns_label, Route, DEFAULT_NAMESPACE};
use super::path::JsonPath;
use super::read::{self, Schema};
use crate::rollout::time::parse_rfc3339;
use crate::router::Router;
use crate::template::{ClusterNameTemplate, DEFAULT_TEMPLATE};
use serde_json::{Map, Value};
use std::collections::HashSet;

const OBJECT: Schema = Schema {
    known: &["apiVersion", "kind", "metadata", "spec", "status"],
    not_implemented: &[],
};

/// A spec inside a whole object: HTTPRouteSpec's own fields.
const OBJECT_SPEC: Schema = Schema {
    known: &["parentRefs", "hostnames", "rules"],
    not_implemented: &["useDefaultGateways"],
};

/// A bare spec in a list: as the single-spec configuration, without the plugin's own keys (a list
/// takes the default `clusterName` and headers).
const LIST_SPEC: Schema = Schema {
    known: &["parentRefs", "hostnames", "rules", "namespace"],
    not_implemented: &[],
};

const API_GROUP: &str = "gateway.networking.k8s.io/";

fn kind(value: &Value) -> Option<&str> {
    value.get("kind").and_then(Value::as_str)
}

/// A whole HTTPRoute object, or a bare HTTPRoute spec (it has `rules`).
fn is_http_route(value: &Value) -> bool {
    match kind(value) {
        Some(kind) => kind == "HTTPRoute",
        None => value.get("rules").is_some(),
    }
}

/// Whether this module reads the document: a whole HTTPRoute, or a list whose first item is one
/// (or a spec). Other lists are another shape's (VirtualServices).
pub fn is_http_route_document(document: &Value) -> bool {
    match document {
        Value::Array(items) => items.first().is_some_and(is_http_route),
        Value::Object(_) => kind(document) == Some("HTTPRoute"),
        _ => false,
    }
}

/// One route of the document before compiling: its spec and what sorts it among the others.
struct Source<'v> {
    spec: &'v Map<String, Value>,
    /// Set for a whole object, `None` for a spec.
    name: Option<&'v str>,
    namespace: &'v str,
    created: Option<i64>,
}

/// A whole object's `apiVersion`, `kind` and `metadata`, and its `spec`.
fn whole_object<'v>(value: &'v Value, path: &JsonPath<'_>) -> ConfigResult<Source<'v>> {
    let map = read::object(value, path)?;
    OBJECT.check_as(map, path, "HTTPRoute", &[])?;
    let kind_path = path.key("kind");
    let kind = map
        .get("kind")
        .map(|k| read::string(k, &kind_path))
        .transpose()?;
    if kind != Some("HTTPRoute") {
        return Err(ConfigError::at(
            &kind_path,
            "expected \"HTTPRoute\"; a list holds HTTPRoutes or VirtualServices, not both",
        ));
    }
    let version_path = path.key("apiVersion");
    match map.get("apiVersion") {
        Some(version) => {
            let version = read::string(version, &version_path)?;
            if !version.starts_with(API_GROUP) {
                return Err(ConfigError::at(
                    &version_path,
                    format!("\"{version}\" is not a Gateway API version ({API_GROUP}...)"),
                ));
            }
        }
        None => return Err(ConfigError::at(&version_path, "missing")),
    }
    let metadata_path = path.key("metadata");
    let metadata = match map.get("metadata") {
        Some(metadata) => read::object(metadata, &metadata_path)?,
        None => return Err(ConfigError::at(&metadata_path, "missing")),
    };
    let name_path = metadata_path.key("name");
    let name = match metadata.get("name") {
        Some(name) => read::non_empty_string(name, &name_path)?,
        None => return Err(ConfigError::at(&name_path, "missing; a route has a name")),
    };
    let namespace = match metadata.get("namespace") {
        Some(ns) => dns_label(ns, &metadata_path.key("namespace"), "namespace")?,
        None => DEFAULT_NAMESPACE,
    };
    let created = match metadata.get("creationTimestamp") {
        Some(Value::Null) | None => None,
        Some(time) => {
            let at = metadata_path.key("creationTimestamp");
            let text = read::string(time, &at)?;
            Some(parse_rfc3339(text).map_err(|reason| ConfigError::at(&at, reason))?)
        }
    };
    let spec_path = path.key("spec");
    let spec = match map.get("spec") {
        Some(spec) => read::object(spec, &spec_path)?,
        None => return Err(ConfigError::at(&spec_path, "missing")),
    };
    OBJECT_SPEC.check_as(spec, &spec_path, "HTTPRoute", &[])?;
    Ok(Source {
        spec,
        name: Some(name),
        namespace,
        created,
    })
}

/// A bare spec in a list.
fn bare_spec<'v>(value: &'v Value, path: &JsonPath<'_>) -> ConfigResult<Source<'v>> {
    let spec = read::object(value, path)?;
    if value.get("http").is_some() || value.get("hosts").is_some() {
        return Err(ConfigError::at(
            path,
            "is a VirtualService; a list holds HTTPRoutes or VirtualServices, not both",
        ));
    }
    LIST_SPEC.check_as(spec, path, "HTTPRoute", &[])?;
    let namespace = match spec.get("namespace") {
        Some(ns) => dns_label(ns, &path.key("namespace"), "namespace")?,
        None => DEFAULT_NAMESPACE,
    };
    Ok(Source {
        spec,
        name: None,
        namespace,
        created: None,
    })
}

/// Where each item sits in the spec's order across routes: oldest first, then `{namespace}/{name}`,
/// then the list's own order. Dated and undated routes cannot be ordered against each other.
fn places(sources: &[Source<'_>], root: &JsonPath<'_>) -> ConfigResult<Vec<usize>> {
    let dated = sources.iter().filter(|s| s.created.is_some()).count();
    if dated != 0 && dated != sources.len() {
        let undated = sources
            .iter()
            .position(|s| s.created.is_none())
            .unwrap_or(0);
        return Err(ConfigError::at(
            &root.index(undated),
            "has no metadata.creationTimestamp while other routes have one; give it on every route or on none (the oldest route takes precedence)",
        ));
    }
    let mut seen = HashSet::new();
    for (index, source) in sources.iter().enumerate() {
        if let Some(name) = source.name {
            if !seen.insert((source.namespace, name)) {
                return Err(ConfigError::at(
                    &root.index(index).key("metadata").key("name"),
                    format!("{}/{name} is an earlier route's name too", source.namespace),
                ));
            }
        }
    }
    let mut order: Vec<_> = sources
        .iter()
        .enumerate()
        // The spec compares the string "{namespace}/{name}" ("a-b/y" before "a/x").
        .map(|(i, s)| {
            (
                s.created,
                s.name.map(|name| format!("{}/{name}", s.namespace)),
                i,
            )
        })
        .collect();
    order.sort();
    let mut places = vec![0; sources.len()];
    for (place, (.., index)) in order.into_iter().enumerate() {
        if let Some(slot) = places.get_mut(index) {
            *slot = place;
        }
    }
    Ok(places)
}

/// Compiles a document [`is_http_route_document`] accepted.
pub fn parse(document: &Value, root: &JsonPath<'_>) -> ConfigResult<Router> {
    let sources = match document {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let at = root.index(index);
                match kind(item) {
                    Some(_) => whole_object(item, &at),
                    None => bare_spec(item, &at),
                }
            })
            .collect::<ConfigResult<Vec<_>>>()?,
        _ => vec![whole_object(document, root)?],
    };
    let places = places(&sources, root)?;
    let mut router = Router::default();
    let template = ClusterNameTemplate::parse(DEFAULT_TEMPLATE)
        .map_err(|reason| ConfigError::at(root, reason))?;
    let in_list = matches!(document, Value::Array(_));
    let mut hosts = Vec::with_capacity(sources.len());
    for (index, source) in sources.iter().enumerate() {
        let item = if in_list { root.index(index) } else { *root };
        let spec = if source.name.is_some() {
            item.key("spec")
        } else {
            item
        };
        hosts.push(gateway::hostnames(source.spec, &spec)?);
    }
    let (hostnames, sets) = gateway::place_hostnames(hosts, &mut router);
    let several = sources.len() > 1;
    let mut names = HashSet::new();
    let mut candidates = Vec::new();
    for (index, source) in sources.iter().enumerate() {
        let item = if in_list { root.index(index) } else { *root };
        let spec = if source.name.is_some() {
            item.key("spec")
        } else {
            item
        };
        let fallback = format!("route-{index}");
        let route = Route {
            namespace: source.namespace,
            rule_prefix: several.then(|| source.name.unwrap_or(&fallback)),
            place: places.get(index).copied().unwrap_or(index),
            hostnames: hostnames.get(index).copied().flatten(),
        };
        gateway::rules(
            source.spec,
            &spec,
            &route,
            &template,
            &mut router,
            &mut names,
            &mut candidates,
        )?;
    }
    gateway::compile_order(candidates, sets, &mut router);
    Ok(router)
}
