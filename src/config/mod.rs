//! The plugin configuration: parsed, validated and compiled once, in `on_configure`.

mod cohort;
mod entry;
mod error;
mod gateway;
mod gateway_match;
mod http_routes;
mod json;
mod limits;
mod match_block;
mod names;
mod path;
mod read;
mod rollout;
mod virtual_service;

pub use error::{ConfigError, ConfigResult};

use crate::authority_index::AuthorityIndex;
use crate::hosts::{HostContext, HostSet, Written, DEFAULT_CLUSTER_DOMAIN, DEFAULT_NAMESPACE};
use crate::router::{Entry, Router};
use crate::template::{ClusterNameTemplate, DEFAULT_TEMPLATE};
use json::{Map, Value};
use path::JsonPath;
use read::Schema;
use std::collections::HashSet;
use virtual_service::{Document, Kind};

const TOP_LEVEL: Schema = Schema {
    known: &[
        "clusterHeader",
        "clusterName",
        "responseHeader",
        "hosts",
        "http",
        "hostnames",
        "rules",
        "parentRefs",
        "namespace",
        "clusterDomain",
    ],
    not_implemented: &["gateways", "tcp", "tls", "exportTo"],
};

/// The keys of each shape: a configuration is a VirtualService's (`http`) or an HTTPRoute's
/// (`rules`), never a mix.
const VIRTUAL_SERVICE_KEYS: &[&str] = &["http", "hosts"];
const HTTP_ROUTE_KEYS: &[&str] = &["rules", "hostnames", "parentRefs"];

/// traffic-shift's settings, valid at the top of any document (beside a whole object's keys too).
const SETTINGS_KEYS: &[&str] = &[
    "clusterHeader",
    "clusterName",
    "responseHeader",
    "clusterDomain",
    "namespace",
];

/// The settings every entry is compiled with.
pub struct Settings {
    pub template: ClusterNameTemplate,
    /// The namespace short names resolve in, unless an object's `metadata.namespace` says another.
    pub namespace: String,
    /// The cluster domain of `name.namespace.svc.<domain>`.
    pub domain: String,
}

impl Settings {
    pub fn host_context(&self) -> HostContext<'_> {
        HostContext {
            namespace: &self.namespace,
            domain: &self.domain,
        }
    }
}

/// Reads the settings in `map` (any may be absent) into `router` and [`Settings`].
fn settings(map: &Map, root: &JsonPath<'_>, router: &mut Router) -> ConfigResult<Settings> {
    if let Some(header) = map.get("clusterHeader") {
        router.cluster_header = names::writable_header(header, &root.key("clusterHeader"))?;
    }
    // Entries may not read it: its value on arrival is the client's.
    router
        .attributes
        .set_written_by_filter(&router.cluster_header);
    if let Some(header) = map.get("responseHeader") {
        router.response_header = Some(names::writable_header(header, &root.key("responseHeader"))?);
    }
    let template_path = root.key("clusterName");
    let template = match map.get("clusterName") {
        Some(text) => read::non_empty_string(text, &template_path)?,
        None => DEFAULT_TEMPLATE,
    };
    let template = ClusterNameTemplate::parse(template)
        .map_err(|reason| ConfigError::at(&template_path, reason))?;
    let namespace = match map.get("namespace") {
        Some(value) => virtual_service::namespace(value, &root.key("namespace"))?,
        None => DEFAULT_NAMESPACE,
    };
    let domain_path = root.key("clusterDomain");
    let domain = match map.get("clusterDomain") {
        Some(value) => {
            let domain = read::non_empty_string(value, &domain_path)?;
            let probe = format!("a.b.svc.{domain}");
            crate::hosts::check_destination_host(&probe).map_err(|_| {
                ConfigError::at(
                    &domain_path,
                    format!("\"{domain}\" is not a DNS domain (such as cluster.local)"),
                )
            })?;
            domain.to_ascii_lowercase()
        }
        None => DEFAULT_CLUSTER_DOMAIN.to_string(),
    };
    Ok(Settings {
        template,
        namespace: namespace.to_string(),
        domain,
    })
}

fn check_one_shape(map: &Map, root: &JsonPath<'_>) -> ConfigResult<()> {
    let present = |keys: &'static [&'static str]| keys.iter().find(|k| map.contains_key(**k));
    let (Some(virtual_service), Some(http_route)) =
        (present(VIRTUAL_SERVICE_KEYS), present(HTTP_ROUTE_KEYS))
    else {
        return Ok(());
    };
    let reason = if (*virtual_service, *http_route) == ("http", "rules") {
        "give either http (the VirtualService shape) or rules (the HTTPRoute shape), not both"
            .to_string()
    } else {
        format!(
            "\"{http_route}\" belongs to the HTTPRoute shape (rules, hostnames) and \"{virtual_service}\" to the VirtualService shape (http, hosts); use one shape"
        )
    };
    Err(ConfigError::at(&root.key(http_route), reason))
}

/// `hosts` or `hostnames`: the authorities the entries apply to.
fn host_set(
    items: &[Value],
    path: &JsonPath<'_>,
    context: &HostContext<'_>,
) -> ConfigResult<HostSet> {
    let (mut set, mut written) = (HostSet::default(), Written::default());
    for (index, item) in items.iter().enumerate() {
        let at = path.index(index);
        set.add(read::non_empty_string(item, &at)?, context, &mut written)
            .map_err(|reason| ConfigError::at(&at, reason))?;
    }
    Ok(set)
}

/// Adds an entry, refusing a name an earlier one has (names name the stats). `names` holds the
/// earlier ones: a scan of the entries instead took seconds for 50,000 of them. The entry applies
/// to the host set in scope ([`Router::scope_hosts`]).
fn push_unique(
    router: &mut Router,
    names: &mut HashSet<String>,
    mut entry: Entry,
    path: &JsonPath<'_>,
) -> ConfigResult<()> {
    if !names.insert(entry.name.clone()) {
        return Err(ConfigError::at(
            &path.key("name"),
            format!(
                "\"{}\" names an earlier entry too; names must be unique (they name the stats)",
                entry.name
            ),
        ));
    }
    entry.hosts = router.scope;
    router.entries.push(entry);
    Ok(())
}

/// Compiles the plugin configuration. Empty input and `{}` are valid and route nothing.
pub fn parse(bytes: &[u8]) -> ConfigResult<Router> {
    let root = JsonPath::Root;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Router::default());
    }
    let document = limits::parse_document(bytes)?;
    let mut router = Router::default();
    // Which document shape: the plugin configuration, or whole objects (one, or a list).
    match virtual_service::document(&document)? {
        Document::Plugin(map) => plugin(map, &root, &mut router)?,
        objects => match virtual_service::objects(&objects, &mut router)? {
            Kind::VirtualService => {}
            Kind::HttpRoute => http_routes::objects(&objects, &mut router)?,
        },
    }
    Ok(finish(router))
}

/// The plugin configuration's own shape: settings, then a VirtualService's or an HTTPRoute's spec.
fn plugin(map: &Map, root: &JsonPath<'_>, router: &mut Router) -> ConfigResult<()> {
    TOP_LEVEL.check(map, root)?;
    check_one_shape(map, root)?;
    let settings = settings(map, root, router)?;
    let context = settings.host_context();
    let mut names = HashSet::new();
    virtual_service::spec(map, root, &settings, &context, None, &mut names, router)?;
    gateway::http_route(map, root, &settings, router)
}

/// What every shape shares once its entries are in.
fn finish(mut router: Router) -> Router {
    // Only entries that match on `:authority` can be indexed by it; they registered it.
    if let Some(authority) = router.attributes.find_header(":authority") {
        router.authority = Some(authority);
        router.authority_index =
            AuthorityIndex::build(router.entries.iter().map(|entry| &entry.rule), authority);
    }
    router
}

#[cfg(test)]
mod cohort_tests;
#[cfg(test)]
mod gateway_tests;
#[cfg(test)]
mod istio_validation_tests;
#[cfg(test)]
mod precedence_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod virtual_service_tests;
