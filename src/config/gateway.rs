//! Gateway API's HTTPRoute shape: one route's `hostnames`, `parentRefs` and `rules` (at the top of
//! the plugin configuration, or in a whole object's `spec`: [`super::http_routes`]). Each rule
//! compiles into the same [`Entry`] as an `http[]` entry (through [`entry::assemble`], so every
//! traffic-shift extension carries over); each of its matches becomes a [`Candidate`] of the
//! configuration's precedence order.

use super::cohort::label;
use super::entry::{self, EXTENSIONS};
use super::error::{ConfigError, ConfigResult};
use super::gateway_match::{matches, ranks};
use super::json::{Map, Value};
use super::names::{check_cluster_name, dns_label};
use super::path::JsonPath;
use super::read::{self, Schema};
use super::Settings;
use crate::hosts::{HostContext, HostSet};
use crate::matcher::MatchRule;
use crate::precedence::{Candidate, MatchRank, Precedence, Ranked};
use crate::request::Attributes;
use crate::router::{Entry, Router, Target};
use crate::template::{ClusterNameTemplate, Destination};
use crate::weighted::WeightedChoice;
use std::collections::HashSet;

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

/// `group` and `kind` must name the core Service, the only backend a sidecar routes to by name.
fn check_service_kind(map: &Map, path: &JsonPath<'_>) -> ConfigResult<()> {
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
) -> ConfigResult<Vec<Target>> {
    let items = read::array(value, path)?;
    let mut targets = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let (cluster, weight, destination, version) =
            backend_ref(item, &path.index(index), context, template)?;
        // A backendRef always has its port: no cluster name takes the request's.
        let mut target = Target::new(cluster, None, weight, destination);
        target.version = version;
        targets.push(target);
    }
    // Unlike Istio, a lone backend keeps its weight: weight 0 means no traffic, refused below.
    Ok(targets)
}

/// A rule without backendRefs: it takes the requests it matches and the filter answers them 500
/// (Gateway API's answer when no backend can serve). It has nothing to split, so nothing to stick to
/// or roll out.
fn without_backends(
    name: String,
    rule: MatchRule,
    map: &Map,
    path: &JsonPath<'_>,
) -> ConfigResult<Entry> {
    if let Some(key) = EXTENSIONS.iter().find(|key| map.contains_key(**key)) {
        return Err(ConfigError::at(
            &path.key(key),
            "a rule without backendRefs answers 500 and has no backend to choose between",
        ));
    }
    // One placeholder weight: `pick` then answers 0 without drawing, and `cluster()` finds none.
    let choice = WeightedChoice::new(&[1])
        .ok_or_else(|| ConfigError::at(path, "internal: a weight of 1 must be valid"))?;
    Ok(Entry {
        name,
        rule,
        sticky: None,
        cohort: None,
        targets: Vec::new(),
        hosts: None,
        choice,
        rollout: None,
    })
}

/// What a route brings beside its spec.
pub struct Route<'a> {
    /// Where its short names resolve: the namespace of its backendRefs.
    pub context: HostContext<'a>,
    /// Prefixes the default names of its rules when a configuration holds several
    /// routes (`reviews/rule-0`, as VirtualServices name theirs), so that entry names (they name the
    /// stats) stay unique; `None` for a lone route.
    pub rule_prefix: Option<&'a str>,
    /// Its place among the configuration's routes in Gateway API's order (oldest, namespace/name).
    pub place: usize,
}

/// What compiling a configuration's routes carries from rule to rule: the router the entries go
/// to, the entry names taken so far (they name the stats, so they must be unique) and every
/// match's candidate for the precedence order.
pub struct Compile<'c> {
    template: &'c ClusterNameTemplate,
    router: &'c mut Router,
    names: HashSet<String>,
    candidates: Vec<Candidate>,
}

impl<'c> Compile<'c> {
    pub fn new(template: &'c ClusterNameTemplate, router: &'c mut Router) -> Self {
        Compile {
            template,
            router,
            names: HashSet::new(),
            candidates: Vec::new(),
        }
    }

    /// Sorts the candidates into the router's precedence order.
    pub fn compile_order(self) {
        self.router.precedence = Some(Precedence::compile(self.candidates));
    }
}

/// One rule, its entry pushed to the router, each of its matches a candidate.
fn rule(
    value: &Value,
    path: &JsonPath<'_>,
    index: usize,
    route: &Route<'_>,
    compile: &mut Compile<'_>,
) -> ConfigResult<()> {
    let Compile {
        template,
        router,
        names,
        candidates,
    } = compile;
    let map = read::object(value, path)?;
    RULE.check_as(map, path, API, EXTENSIONS)?;
    let name = match (map.get("name"), route.rule_prefix) {
        (Some(name), _) => read::non_empty_string(name, &path.key("name"))?.to_string(),
        (None, Some(prefix)) => format!("{prefix}/rule-{index}"),
        (None, None) => format!("rule-{index}"),
    };
    let attributes: &mut Attributes = &mut router.attributes;
    let (rule, match_ranks) = match map.get("matches") {
        Some(list) => (
            matches(list, &path.key("matches"), attributes)?,
            ranks(list),
        ),
        None => (MatchRule::default(), Vec::new()),
    };
    let refs_path = path.key("backendRefs");
    let targets = match map.get("backendRefs") {
        Some(refs) => backend_refs(refs, &refs_path, &route.context, template)?,
        None => Vec::new(),
    };
    let entry = if targets.is_empty() {
        without_backends(name, rule, map, path)?
    } else {
        entry::assemble(name, rule, targets, &refs_path, map, path, attributes)?
    };
    let entry_index = router.entries.len();
    // Each match ranks on its own; a rule without matches is one match, `PathPrefix` `/`.
    let blocks: Vec<Option<usize>> = match entry.rule.blocks.len() {
        0 => vec![None],
        n => (0..n).map(Some).collect(),
    };
    for (match_index, block) in blocks.into_iter().enumerate() {
        candidates.push(Candidate {
            rank: match_ranks
                .get(match_index)
                .copied()
                .unwrap_or(MatchRank::DEFAULT),
            route: route.place,
            rule: index,
            index: match_index,
            ranked: Ranked {
                entry: entry_index,
                block,
            },
        });
    }
    super::push_unique(router, names, entry, path)
}

/// The route's `hostnames` (`None`: every authority, as in Gateway API when there are none) after
/// checking the form of its `parentRefs`.
pub fn hostnames(
    spec: &Map,
    spec_path: &JsonPath<'_>,
    context: &HostContext<'_>,
) -> ConfigResult<Option<HostSet>> {
    if let Some(parents) = spec.get("parentRefs") {
        // Where the route attaches: for the filter, where it is loaded (README), so only its form is checked.
        let parents_path = spec_path.key("parentRefs");
        for (index, parent) in read::array(parents, &parents_path)?.iter().enumerate() {
            read::object(parent, &parents_path.index(index))?;
        }
    }
    let Some(hostnames) = spec.get("hostnames") else {
        return Ok(None);
    };
    let hostnames_path = spec_path.key("hostnames");
    let items = read::array(hostnames, &hostnames_path)?;
    if items.is_empty() {
        return Ok(None);
    }
    super::host_set(items, &hostnames_path, context).map(Some)
}

/// One route: its hostnames scope its rules, whose entries and matches `compile` takes.
pub fn route(
    spec: &Map,
    spec_path: &JsonPath<'_>,
    route: &Route<'_>,
    compile: &mut Compile<'_>,
) -> ConfigResult<()> {
    let hosts = hostnames(spec, spec_path, &route.context)?;
    compile.router.scope_hosts(hosts);
    if let Some(rules) = spec.get("rules") {
        let rules_path = spec_path.key("rules");
        for (index, item) in read::array(rules, &rules_path)?.iter().enumerate() {
            let at = rules_path.index(index);
            rule(item, &at, index, route, compile)?;
        }
    }
    compile.router.scope = None;
    Ok(())
}

/// The HTTPRoute shape's top-level keys of the configuration `map`, into `router`.
pub fn http_route(
    map: &Map,
    root: &JsonPath<'_>,
    settings: &Settings,
    router: &mut Router,
) -> ConfigResult<()> {
    let route_of = Route {
        context: settings.host_context(),
        rule_prefix: None,
        place: 0,
    };
    let mut compile = Compile::new(&settings.template, router);
    route(map, root, &route_of, &mut compile)?;
    if map.contains_key("rules") {
        compile.compile_order();
    }
    Ok(())
}
