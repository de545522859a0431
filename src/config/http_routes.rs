//! HTTPRoutes as Kubernetes keeps them: one whole object (what `kubectl get httproute reviews -o json`
//! prints, settings such as `clusterName` beside its keys), or a list of whole objects or of specs (a
//! JSON array, or a `List` with `items`), all for the one parent the filter runs in
//! ([`super::virtual_service::document`] tells the shapes apart). Their rules are matched across
//! routes in Gateway API's precedence ([`crate::precedence`]); ties between routes go to the oldest
//! (`metadata.creationTimestamp`), then by `"{namespace}/{name}"`, then by their place in the list.

use super::error::{ConfigError, ConfigResult};
use super::gateway::{self, Route};
use super::json::{Map, Value};
use super::path::JsonPath;
use super::read::{self, Schema};
use super::virtual_service::{namespace, Document};
use crate::hosts::HostContext;
use crate::rollout::time::parse_rfc3339;
use crate::router::Router;
use std::collections::HashSet;

const API: &str = "HTTPRoute";

const OBJECT: Schema = Schema {
    known: &["apiVersion", "kind", "metadata", "spec", "status"],
    not_implemented: &[],
};

/// A spec inside a whole object: HTTPRouteSpec's own fields.
const OBJECT_SPEC: Schema = Schema {
    known: &["parentRefs", "hostnames", "rules"],
    not_implemented: &["useDefaultGateways"],
};

/// A bare spec in a list; `namespace` (traffic-shift's) stands for the metadata it lacks.
const LIST_SPEC: Schema = Schema {
    known: &["parentRefs", "hostnames", "rules", "namespace"],
    not_implemented: &[],
};

const API_GROUP: &str = "gateway.networking.k8s.io/";

/// One route before compiling: its spec and what sorts it among the others.
struct Source<'v> {
    spec: &'v Map<'v>,
    whole: bool,
    name: Option<&'v str>,
    namespace: &'v str,
    created: Option<i64>,
}

fn is_whole(map: &Map) -> bool {
    ["kind", "apiVersion", "spec"]
        .iter()
        .any(|k| map.contains_key(*k))
}

/// A whole object's `apiVersion`, `kind` and `metadata`, and its `spec`.
fn whole_object<'v>(
    map: &'v Map<'v>,
    path: &JsonPath<'_>,
    settings_keys: &[&str],
    default_namespace: &'v str,
) -> ConfigResult<Source<'v>> {
    OBJECT.check_as(map, path, API, settings_keys)?;
    if let Some(version) = map.get("apiVersion") {
        let at = path.key("apiVersion");
        let version = read::string(version, &at)?;
        if !version.starts_with(API_GROUP) {
            return Err(ConfigError::at(
                &at,
                format!("\"{version}\" is not a Gateway API version ({API_GROUP}v1, …)"),
            ));
        }
    }
    let (mut name, mut route_namespace, mut created) = (None, default_namespace, None);
    if let Some(metadata) = map.get("metadata") {
        let metadata_path = path.key("metadata");
        let metadata = read::object(metadata, &metadata_path)?;
        if let Some(given) = metadata.get("name") {
            name = Some(read::non_empty_string(given, &metadata_path.key("name"))?);
        }
        if let Some(ns) = metadata.get("namespace") {
            route_namespace = namespace(ns, &metadata_path.key("namespace"))?;
        }
        if let Some(time) = metadata.get("creationTimestamp").filter(|t| !t.is_null()) {
            let at = metadata_path.key("creationTimestamp");
            let text = read::string(time, &at)?;
            created = Some(parse_rfc3339(text).map_err(|reason| ConfigError::at(&at, reason))?);
        }
    }
    let spec_path = path.key("spec");
    let spec = match map.get("spec") {
        Some(spec) => read::object(spec, &spec_path)?,
        None => {
            return Err(ConfigError::at(
                &spec_path,
                "missing; an HTTPRoute has a spec",
            ))
        }
    };
    OBJECT_SPEC.check_as(spec, &spec_path, API, &[])?;
    Ok(Source {
        spec,
        whole: true,
        name,
        namespace: route_namespace,
        created,
    })
}

/// A bare spec in a list.
fn bare_spec<'v>(
    spec: &'v Map<'v>,
    path: &JsonPath<'_>,
    default_namespace: &'v str,
) -> ConfigResult<Source<'v>> {
    LIST_SPEC.check_as(spec, path, API, &[])?;
    let route_namespace = match spec.get("namespace") {
        Some(ns) => namespace(ns, &path.key("namespace"))?,
        None => default_namespace,
    };
    Ok(Source {
        spec,
        whole: false,
        name: None,
        namespace: route_namespace,
        created: None,
    })
}

/// Where each route sits in the spec's order across routes: oldest first, then
/// `"{namespace}/{name}"` as one string, then the list's own order. Dated and undated routes cannot
/// be ordered against each other; two routes cannot share a namespace and name.
fn places(sources: &[Source<'_>], items_path: &JsonPath<'_>) -> ConfigResult<Vec<usize>> {
    let dated = sources.iter().filter(|s| s.created.is_some()).count();
    if dated != 0 && dated != sources.len() {
        let undated = sources
            .iter()
            .position(|s| s.created.is_none())
            .unwrap_or(0);
        return Err(ConfigError::at(
            &items_path.index(undated),
            "has no metadata.creationTimestamp while other routes have one; give it on every route or on none (the oldest route takes precedence)",
        ));
    }
    let mut seen = HashSet::new();
    for (index, source) in sources.iter().enumerate() {
        if let Some(name) = source.name {
            if !seen.insert((source.namespace, name)) {
                return Err(ConfigError::at(
                    &items_path.index(index).key("metadata").key("name"),
                    format!("{}/{name} is an earlier route's name too", source.namespace),
                ));
            }
        }
    }
    let mut order: Vec<_> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let key = s.name.map(|name| format!("{}/{name}", s.namespace));
            (s.created, key, i)
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

/// Compiles a document of HTTPRoute objects or specs (and the settings beside them) into `router`.
pub fn objects(document: &Document<'_>, router: &mut Router) -> ConfigResult<()> {
    let root = JsonPath::Root;
    let empty = Map::new();
    let beside = match document {
        Document::Object(map) | Document::Plugin(map) => *map,
        Document::List { settings, .. } => settings.unwrap_or(&empty),
    };
    let settings = super::settings(beside, &root, router)?;
    let default_namespace = settings.namespace.as_str();
    let (items, items_path): (Vec<&Value>, JsonPath<'_>) = match document {
        Document::List {
            items,
            settings: Some(_),
        } => (items.iter().collect(), root.key("items")),
        Document::List { items, .. } => (items.iter().collect(), root),
        Document::Object(_) | Document::Plugin(_) => (Vec::new(), root),
    };
    let single = match document {
        Document::Object(map) | Document::Plugin(map) => Some(*map),
        Document::List { .. } => None,
    };
    let mut sources = Vec::new();
    if let Some(map) = single {
        sources.push(whole_object(
            map,
            &root,
            super::SETTINGS_KEYS,
            default_namespace,
        )?);
    }
    for (index, item) in items.iter().enumerate() {
        let at = items_path.index(index);
        let map = read::object(item, &at)?;
        sources.push(if is_whole(map) {
            whole_object(map, &at, &[], default_namespace)?
        } else {
            bare_spec(map, &at, default_namespace)?
        });
    }
    let places = places(&sources, &items_path)?;
    let several = sources.len() > 1;
    let mut compile = gateway::Compile::new(&settings.template, router);
    for (index, source) in sources.iter().enumerate() {
        let item = if single.is_some() {
            root
        } else {
            items_path.index(index)
        };
        let spec_path = if source.whole { item.key("spec") } else { item };
        let fallback = format!("route-{index}");
        let route = Route {
            context: HostContext {
                namespace: source.namespace,
                domain: &settings.domain,
            },
            rule_prefix: several.then(|| source.name.unwrap_or(&fallback)),
            place: places.get(index).copied().unwrap_or(index),
        };
        gateway::route(source.spec, &spec_path, &route, &mut compile)?;
    }
    compile.compile_order();
    Ok(())
}
