//! `http[]`: one entry of the VirtualService shape, compiled into an [`Entry`]; and [`assemble`],
//! which both shapes (this and Gateway API's `rules[]`) use to finish an entry.

use super::cohort::{cohort, label};
use super::error::{ConfigError, ConfigResult};
use super::json::{Map, Value};
use super::match_block::{client_chooses, match_rule};
use super::names::{check_cluster_name, cookie_name, is_dns_label, writable_header};
use super::path::JsonPath;
use super::read::{self, Schema};
use super::rollout::rollout;
use crate::hosts::{check_destination_host, HostContext};
use crate::matcher::MatchRule;
use crate::request::Attributes;
use crate::router::{Entry, StickyKey, Target};
use crate::template::{ClusterNameTemplate, Destination};
use crate::weighted::WeightedChoice;

/// traffic-shift's own keys, valid in an entry of either shape (`http[]` and `rules[]`); they are
/// read by [`assemble`], so whatever is added here carries over to both shapes.
pub const EXTENSIONS: &[&str] = &["sticky", "rollout"];

const ENTRY: Schema = Schema {
    known: &["name", "match", "route"],
    not_implemented: &[
        "redirect",
        "delegate",
        "directResponse",
        "rewrite",
        "timeout",
        "retries",
        "fault",
        "mirror",
        "mirrors",
        "mirrorPercent",
        "mirrorPercentage",
        "corsPolicy",
        "headers",
    ],
};

const ROUTE_DESTINATION: Schema = Schema {
    known: &["destination", "weight"],
    not_implemented: &["headers"],
};

const DESTINATION: Schema = Schema {
    known: &["host", "subset", "port"],
    not_implemented: &[],
};

const PORT: Schema = Schema {
    known: &["number"],
    not_implemented: &[],
};

const STICKY: Schema = Schema {
    known: &["header", "cookie", "cohort"],
    not_implemented: &[],
};

fn destination(
    value: &Value,
    path: &JsonPath<'_>,
    context: &HostContext<'_>,
) -> ConfigResult<Destination> {
    let map = read::object(value, path)?;
    DESTINATION.check(map, path)?;
    let host_path = path.key("host");
    let host = match map.get("host") {
        Some(host) => {
            let host = read::non_empty_string(host, &host_path)?;
            check_destination_host(host).map_err(|reason| ConfigError::at(&host_path, reason))?;
            host.to_string()
        }
        None => {
            return Err(ConfigError::at(
                &host_path,
                "missing; every destination needs a host",
            ))
        }
    };
    let subset = match map.get("subset") {
        Some(subset) => {
            let at = path.key("subset");
            let name = read::non_empty_string(subset, &at)?;
            if !is_dns_label(name) {
                return Err(ConfigError::at(
                    &at,
                    format!("\"{name}\" is not a valid subset name: Istio requires a DNS label (lowercase letters, digits and '-', at most 63)"),
                ));
            }
            Some(name.to_string())
        }
        None => None,
    };
    let port = match map.get("port") {
        Some(port) => {
            let port_path = path.key("port");
            let port_map = read::object(port, &port_path)?;
            PORT.check(port_map, &port_path)?;
            let number_path = port_path.key("number");
            let number = port_map
                .get("number")
                .ok_or_else(|| ConfigError::at(&number_path, "missing"))?;
            match read::unsigned(number, &number_path, 65_535)? {
                0 => return Err(ConfigError::at(&number_path, "a port must be 1 to 65535")),
                n => Some(n as u32),
            }
        }
        None => None,
    };
    Ok(Destination {
        fqdn: context.fqdn(&host),
        host,
        subset,
        port,
    })
}

/// The largest weight Istio accepts (its `weight` is an int32).
pub(super) const MAX_WEIGHT: u64 = i32::MAX as u64;

/// The destinations' cluster names and weights, validated as Istio does.
fn route(
    value: &Value,
    path: &JsonPath<'_>,
    template: &ClusterNameTemplate,
    context: &HostContext<'_>,
) -> ConfigResult<Vec<Target>> {
    let items = read::array(value, path)?;
    if items.is_empty() {
        return Err(ConfigError::at(path, "needs at least one destination"));
    }
    let mut targets = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let at = path.index(index);
        let map = read::object(item, &at)?;
        ROUTE_DESTINATION.check(map, &at)?;
        let destination_path = at.key("destination");
        let target = match map.get("destination") {
            Some(target) => destination(target, &destination_path, context)?,
            None => return Err(ConfigError::at(&destination_path, "missing")),
        };
        let cluster = template.render(&target);
        check_cluster_name(&cluster, &destination_path)?;
        let weight = match map.get("weight") {
            // Istio's weight is an int32.
            Some(weight) => read::unsigned(weight, &at.key("weight"), MAX_WEIGHT)? as u32,
            None => 0,
        };
        let holes = template.port_holes(&target);
        targets.push(Target::new(cluster, holes, weight, target));
    }
    if let [lone] = targets.as_mut_slice() {
        // A lone destination takes all traffic, whatever its weight (as in Istio).
        lone.weight = 1;
    }
    Ok(targets)
}

/// The key, and the cohort's name when it names one.
fn sticky(
    value: &Value,
    path: &JsonPath<'_>,
    attributes: &mut Attributes,
) -> ConfigResult<(StickyKey, Option<String>)> {
    let map = read::object(value, path)?;
    STICKY.check(map, path)?;
    let cohort = match map.get("cohort") {
        Some(name) => Some(label(name, &path.key("cohort"))?),
        None => None,
    };
    let written = attributes
        .written_by_filter()
        .unwrap_or_default()
        .to_string();
    let key = match (map.get("header"), map.get("cookie")) {
        (Some(header), None) => {
            let at = path.key("header");
            let name = writable_header(header, &at)?;
            if name == written {
                return Err(ConfigError::at(&at, client_chooses(&name)));
            }
            Ok(StickyKey::Header {
                slot: attributes.sticky_header(&name),
            })
        }
        (None, Some(cookie)) => {
            let at = path.key("cookie");
            if written == "cookie" {
                return Err(ConfigError::at(&at, client_chooses("cookie")));
            }
            Ok(StickyKey::Cookie {
                cookie_header: attributes.sticky_header("cookie"),
                name: cookie_name(cookie, &at)?,
            })
        }
        _ => Err(ConfigError::at(
            path,
            "give exactly one of header or cookie",
        )),
    }?;
    Ok((key, cohort))
}

/// Finishes an entry of either shape from its name, match rule and targets (read by the shape's own
/// code) and the [`EXTENSIONS`] in `map`, the entry's object at `path`.
pub fn assemble(
    name: String,
    rule: MatchRule,
    targets: Vec<Target>,
    targets_path: &JsonPath<'_>,
    map: &Map,
    path: &JsonPath<'_>,
    attributes: &mut Attributes,
) -> ConfigResult<Entry> {
    let (sticky, cohort_name) = match map.get("sticky") {
        Some(key) => {
            let (key, cohort) = sticky(key, &path.key("sticky"), attributes)?;
            (Some(key), cohort)
        }
        None => (None, None),
    };
    if targets.iter().any(|t| t.port_holes.is_some()) {
        // The cluster name takes the request's port from `:authority`.
        attributes.header(":authority");
    }
    let weights: Vec<u32> = targets.iter().map(|t| t.weight).collect();
    let choice = WeightedChoice::new(&weights).ok_or_else(|| {
        ConfigError::at(
            targets_path,
            "every destination has weight 0; give at least one a positive weight",
        )
    })?;
    let rollout = match map.get("rollout") {
        Some(value) => Some(rollout(value, &path.key("rollout"), &weights)?),
        None => None,
    };
    let versions: Vec<Option<String>> = targets.iter().map(|t| t.version.clone()).collect();
    let destinations: Vec<Destination> = targets.iter().map(|t| t.destination.clone()).collect();
    let cohort = cohort(
        cohort_name.as_deref(),
        &versions,
        &destinations,
        rollout.as_ref(),
        targets_path,
    )?;
    Ok(Entry {
        name,
        rule,
        sticky,
        cohort,
        targets,
        hosts: None,
        choice,
        rollout,
    })
}

pub fn entry(
    value: &Value,
    path: &JsonPath<'_>,
    index: usize,
    template: &ClusterNameTemplate,
    context: &HostContext<'_>,
    attributes: &mut Attributes,
) -> ConfigResult<Entry> {
    let map = read::object(value, path)?;
    ENTRY.check_as(map, path, "VirtualService", EXTENSIONS)?;
    let name = match map.get("name") {
        Some(name) => read::non_empty_string(name, &path.key("name"))?.to_string(),
        None => format!("http-{index}"),
    };
    let rule = match map.get("match") {
        Some(rule) => match_rule(rule, &path.key("match"), attributes)?,
        None => Default::default(),
    };
    let route_path = path.key("route");
    let targets = match map.get("route") {
        Some(routes) => route(routes, &route_path, template, context)?,
        None => {
            return Err(ConfigError::at(
                &route_path,
                "missing; an entry needs destinations",
            ))
        }
    };
    assemble(name, rule, targets, &route_path, map, path, attributes)
}
