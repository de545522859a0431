//! The VirtualService shape: `hosts` and `http` at the top of the plugin configuration, a whole
//! VirtualService object (`apiVersion`, `kind`, `metadata`, `spec`, as `kubectl get -o json` prints
//! it), or a list of them (a JSON array, a YAML file of several documents converted to one, or a
//! Kubernetes `List`). Each VirtualService's entries apply to its own `hosts`, in the order given;
//! its `metadata.namespace` is the namespace its short names resolve in.

use super::entry;
use super::error::{ConfigError, ConfigResult};
use super::json::{Map, Value};
use super::path::JsonPath;
use super::read::{self, Schema};
use super::Settings;
use crate::hosts::HostContext;
use crate::router::Router;
use std::collections::HashSet;

const API: &str = "VirtualService";

/// A VirtualService's `spec`, in a whole object or a list.
const SPEC: Schema = Schema {
    known: &["hosts", "http", "gateways"],
    not_implemented: &["tcp", "tls", "exportTo"],
};

/// A whole Kubernetes object; `status` and metadata other than `namespace` are ignored.
const OBJECT: Schema = Schema {
    known: &["apiVersion", "kind", "metadata", "spec", "status"],
    not_implemented: &[],
};

/// A Kubernetes `List` (`kubectl get virtualservices -o json`).
const LIST: Schema = Schema {
    known: &["apiVersion", "kind", "metadata", "items"],
    not_implemented: &[],
};

/// The document's shape, from its top level.
pub enum Document<'v> {
    /// The plugin configuration (`http` and `hosts`, or an HTTPRoute's `spec` keys, at the top).
    Plugin(&'v Map<'v>),
    /// One whole object at the top, settings (`clusterName`, …) beside its keys.
    Object(&'v Map<'v>),
    /// Several objects or specs: a JSON array (no settings) or a `List` (`items`, settings beside).
    List {
        items: &'v [Value<'v>],
        settings: Option<&'v Map<'v>>,
    },
}

/// What a document holds: a list (an array, or an object with `items`), a whole object (one with
/// `kind`, `apiVersion` or `spec`), or the plugin configuration. Anything else is refused.
pub fn document<'v>(value: &'v Value<'v>) -> ConfigResult<Document<'v>> {
    if let Some(items) = value.as_array() {
        return Ok(Document::List {
            items,
            settings: None,
        });
    }
    let map = read::object(value, &JsonPath::Root)?;
    if let Some(items) = map.get("items").and_then(Value::as_array) {
        return Ok(Document::List {
            items,
            settings: Some(map),
        });
    }
    let whole = ["kind", "apiVersion", "spec"]
        .iter()
        .any(|k| map.contains_key(*k));
    Ok(if whole {
        Document::Object(map)
    } else {
        Document::Plugin(map)
    })
}

/// Which API an object or spec belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    VirtualService,
    HttpRoute,
}

/// The kind of one item: its `kind`, or for a bare spec the keys it holds.
fn kind_of(map: &Map) -> Kind {
    match map.get("kind").and_then(Value::as_str) {
        Some("HTTPRoute") => Kind::HttpRoute,
        Some(_) => Kind::VirtualService,
        None if ["rules", "hostnames", "parentRefs"]
            .iter()
            .any(|k| map.contains_key(*k)) =>
        {
            Kind::HttpRoute
        }
        None => Kind::VirtualService,
    }
}

/// A namespace name (an RFC 1123 label).
pub fn namespace<'v>(value: &'v Value<'v>, path: &JsonPath<'_>) -> ConfigResult<&'v str> {
    super::names::dns_label(value, path, "namespace")
}

/// Compiles the VirtualService shape's `hosts` and `http` of `spec` (at `path`) into `router`.
/// `defaults` names unnamed entries `<defaults>/http-<index>` (in lists, where `http-<index>`
/// would repeat); `names` holds the entry names so far.
pub fn spec(
    spec: &Map,
    path: &JsonPath<'_>,
    settings: &Settings,
    context: &HostContext<'_>,
    defaults: Option<&str>,
    names: &mut HashSet<String>,
    router: &mut Router,
) -> ConfigResult<()> {
    let hosts = match spec.get("hosts") {
        Some(hosts) => {
            let hosts_path = path.key("hosts");
            let items = read::array(hosts, &hosts_path)?;
            if items.is_empty() {
                return Err(ConfigError::at(
                    &hosts_path,
                    "lists no host; omit hosts to apply to every authority",
                ));
            }
            Some(super::host_set(items, &hosts_path, context)?)
        }
        None => None,
    };
    router.scope_hosts(hosts);
    if let Some(http) = spec.get("http") {
        let http_path = path.key("http");
        for (index, item) in read::array(http, &http_path)?.iter().enumerate() {
            let at = http_path.index(index);
            let attributes = &mut router.attributes;
            let mut entry =
                entry::entry(item, &at, index, &settings.template, context, attributes)?;
            if let (Some(prefix), None) = (defaults, item.get("name")) {
                entry.name = format!("{prefix}/http-{index}");
            }
            super::push_unique(router, names, entry, &at)?;
        }
    }
    router.scope = None;
    Ok(())
}

/// `gateways`, which only the sidecars' own `mesh` may name here: the filter runs where it is
/// loaded, as a VirtualService bound to `mesh` does.
fn check_gateways(value: &Value, path: &JsonPath<'_>) -> ConfigResult<()> {
    for (index, gateway) in read::array(value, path)?.iter().enumerate() {
        let at = path.index(index);
        if read::string(gateway, &at)? != "mesh" {
            return Err(ConfigError::at(
                &at,
                "traffic-shift runs where it is loaded, as for the mesh gateway; only \"mesh\" may be named (bind the WasmPlugin to a gateway's workload instead)",
            ));
        }
    }
    Ok(())
}

/// One item of a list, or the document itself: a whole VirtualService, or its `spec`.
/// `settings_keys` are the traffic-shift settings that may sit beside a whole object's keys.
fn object(
    map: &Map,
    path: &JsonPath<'_>,
    settings: &Settings,
    settings_keys: &[&str],
    position: usize,
    names: &mut HashSet<String>,
    router: &mut Router,
) -> ConfigResult<()> {
    let whole = ["kind", "apiVersion", "spec"]
        .iter()
        .any(|k| map.contains_key(*k));
    let mut namespace_name = settings.namespace.as_str();
    let mut name = format!("virtualservice-{position}");
    let spec_path;
    let spec_map = if whole {
        OBJECT.check_as(map, path, API, settings_keys)?;
        check_kind(map, path)?;
        if let Some(metadata) = map.get("metadata") {
            let metadata_path = path.key("metadata");
            let metadata = read::object(metadata, &metadata_path)?;
            if let Some(ns) = metadata.get("namespace") {
                namespace_name = namespace(ns, &metadata_path.key("namespace"))?;
            }
            if let Some(given) = metadata.get("name") {
                name = read::non_empty_string(given, &metadata_path.key("name"))?.to_string();
            }
        }
        spec_path = path.key("spec");
        match map.get("spec") {
            Some(spec) => read::object(spec, &spec_path)?,
            None => {
                return Err(ConfigError::at(
                    &spec_path,
                    "missing; a VirtualService has a spec",
                ))
            }
        }
    } else {
        spec_path = *path;
        map
    };
    SPEC.check_as(spec_map, &spec_path, API, &[])?;
    if let Some(gateways) = spec_map.get("gateways") {
        check_gateways(gateways, &spec_path.key("gateways"))?;
    }
    if !spec_map.contains_key("hosts") {
        return Err(ConfigError::at(
            &spec_path.key("hosts"),
            "missing; a VirtualService names the hosts it applies to",
        ));
    }
    let context = HostContext {
        namespace: namespace_name,
        domain: &settings.domain,
    };
    spec(
        spec_map,
        &spec_path,
        settings,
        &context,
        Some(&name),
        names,
        router,
    )
}

/// `kind` must say VirtualService, and `apiVersion` Istio's `networking.istio.io` (any version).
fn check_kind(map: &Map, path: &JsonPath<'_>) -> ConfigResult<()> {
    if let Some(version) = map.get("apiVersion") {
        let at = path.key("apiVersion");
        let version = read::string(version, &at)?;
        if !version.starts_with("networking.istio.io/") {
            return Err(ConfigError::at(
                &at,
                format!("\"{version}\" is not Istio's networking API (networking.istio.io/v1, …)"),
            ));
        }
    }
    let at = path.key("kind");
    match map.get("kind") {
        Some(kind) => match read::string(kind, &at)? {
            API => Ok(()),
            other => Err(ConfigError::at(
                &at,
                format!("traffic-shift reads VirtualService and HTTPRoute objects, not {other}"),
            )),
        },
        None => Err(ConfigError::at(&at, "missing; give kind: VirtualService")),
    }
}

/// Refuses a list that mixes VirtualServices and HTTPRoutes, and says which kind it holds.
fn kind_of_list(items: &[Value], items_path: &JsonPath<'_>) -> ConfigResult<Kind> {
    let mut first = None;
    for (index, item) in items.iter().enumerate() {
        let kind = item.as_object().map_or(Kind::VirtualService, kind_of);
        match first {
            None => first = Some(kind),
            Some(first) if first != kind => {
                return Err(ConfigError::at(
                    &items_path.index(index),
                    "mixes VirtualServices and HTTPRoutes; give one kind (each is a whole routing of its own)",
                ))
            }
            Some(_) => {}
        }
    }
    Ok(first.unwrap_or(Kind::VirtualService))
}

/// Compiles a document of objects (see [`document`]) and the settings beside them into `router`.
/// Returns [`Kind::HttpRoute`] for HTTPRoute objects, which are not compiled here.
pub fn objects(document: &Document<'_>, router: &mut Router) -> ConfigResult<Kind> {
    let root = JsonPath::Root;
    let beside = match document {
        Document::Object(map) | Document::Plugin(map) => Some(*map),
        Document::List { settings, .. } => *settings,
    };
    let settings = &super::settings(beside.unwrap_or(&Map::new()), &root, router)?;
    let mut names = HashSet::new();
    match document {
        Document::Plugin(_) => Ok(Kind::VirtualService),
        Document::Object(map) => match kind_of(map) {
            Kind::HttpRoute => Ok(Kind::HttpRoute),
            Kind::VirtualService => {
                object(
                    map,
                    &root,
                    settings,
                    super::SETTINGS_KEYS,
                    0,
                    &mut names,
                    router,
                )?;
                Ok(Kind::VirtualService)
            }
        },
        Document::List {
            items,
            settings: beside,
        } => {
            let list_key = beside.map(|_| "items");
            if let Some(map) = beside {
                LIST.check_as(map, &root, "List", super::SETTINGS_KEYS)?;
                if let Some(kind) = map.get("kind") {
                    let at = root.key("kind");
                    if read::string(kind, &at)? != "List" {
                        return Err(ConfigError::at(&at, "a document with items is a List"));
                    }
                }
            }
            let items_path = match list_key {
                Some(key) => root.key(key),
                None => root,
            };
            let kind = kind_of_list(items, &items_path)?;
            if kind == Kind::HttpRoute {
                return Ok(kind);
            }
            for (position, item) in items.iter().enumerate() {
                let at = items_path.index(position);
                let map = read::object(item, &at)?;
                object(map, &at, settings, &[], position, &mut names, router)?;
            }
            Ok(Kind::VirtualService)
        }
    }
}
