//! The plugin configuration: parsed, validated and compiled once, in `on_configure`.

mod cohort;
mod entry;
mod error;
mod gateway;
mod gateway_match;
mod limits;
mod match_block;
mod names;
mod path;
mod read;
mod rollout;

pub use error::{ConfigError, ConfigResult};

use crate::authority_index::AuthorityIndex;
use crate::hosts::HostSet;
use crate::router::{Entry, Router};
use crate::template::{ClusterNameTemplate, DEFAULT_TEMPLATE};
use path::JsonPath;
use read::Schema;
use serde_json::Value;
use std::collections::HashSet;

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
    ],
    not_implemented: &["gateways", "tcp", "tls", "exportTo"],
};

/// The keys of each shape: a configuration is a VirtualService's (`http`) or an HTTPRoute's
/// (`rules`), never a mix.
const VIRTUAL_SERVICE_KEYS: &[&str] = &["http", "hosts"];
const HTTP_ROUTE_KEYS: &[&str] = &["rules", "hostnames", "parentRefs", "namespace"];

fn check_one_shape(map: &serde_json::Map<String, Value>, root: &JsonPath<'_>) -> ConfigResult<()> {
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
fn host_set(items: &[Value], path: &JsonPath<'_>) -> ConfigResult<HostSet> {
    let mut set = HostSet::default();
    for (index, item) in items.iter().enumerate() {
        let at = path.index(index);
        set.add(read::non_empty_string(item, &at)?)
            .map_err(|reason| ConfigError::at(&at, reason))?;
    }
    Ok(set)
}

/// Adds an entry, refusing a name an earlier one has (names name the stats). `names` holds the
/// earlier ones: a scan of the entries instead took seconds for 50,000 of them.
fn push_unique(
    router: &mut Router,
    names: &mut HashSet<String>,
    entry: Entry,
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
    let map = read::object(&document, &root)?;
    TOP_LEVEL.check(map, &root)?;
    check_one_shape(map, &root)?;
    let mut router = Router::default();

    if let Some(header) = map.get("clusterHeader") {
        router.cluster_header = names::writable_header(header, &root.key("clusterHeader"))?;
    }
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

    if let Some(hosts) = map.get("hosts") {
        let hosts_path = root.key("hosts");
        let items = read::array(hosts, &hosts_path)?;
        if items.is_empty() {
            return Err(ConfigError::at(
                &hosts_path,
                "lists no host; omit hosts to apply to every authority",
            ));
        }
        let set = host_set(items, &hosts_path)?;
        router.hosts = Some((set, router.attributes.header(":authority")));
    }
    if let Some(http) = map.get("http") {
        let http_path = root.key("http");
        let mut names = HashSet::new();
        for (index, item) in read::array(http, &http_path)?.iter().enumerate() {
            let at = http_path.index(index);
            let entry = entry::entry(item, &at, index, &template, &mut router.attributes)?;
            push_unique(&mut router, &mut names, entry, &at)?;
        }
    }
    gateway::http_route(map, &root, &template, &mut router)?;
    // Only entries that match on `:authority` can be indexed by it; they registered it.
    if let Some(authority) = router.attributes.find_header(":authority") {
        router.authority_index =
            AuthorityIndex::build(router.entries.iter().map(|entry| &entry.rule), authority);
    }
    Ok(router)
}

#[cfg(test)]
mod cohort_tests;
#[cfg(test)]
mod gateway_tests;
#[cfg(test)]
mod tests;
