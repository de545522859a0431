//! `sticky.cohort` and the HTTPRoute backendRef `version` that lines destinations up in it.

use super::error::{ConfigError, ConfigResult};
use super::json::Value;
use super::path::JsonPath;
use super::read;
use crate::cohort::{newer_destination, Cohort};
use crate::rollout::Rollout;
use crate::template::Destination;

/// The longest cohort name or version: a DNS name's length, room for any release or label name.
pub const MAX_LABEL_BYTES: usize = 253;

/// A cohort name or a version: a non-empty string of at most [`MAX_LABEL_BYTES`] bytes.
pub fn label(value: &Value, path: &JsonPath<'_>) -> ConfigResult<String> {
    let text = read::non_empty_string(value, path)?;
    if text.len() > MAX_LABEL_BYTES {
        return Err(ConfigError::at(
            path,
            format!("is {} bytes long; at most {MAX_LABEL_BYTES}", text.len()),
        ));
    }
    Ok(text.to_string())
}

/// Destination `index`'s version: its `version` extension, else its subset, else its position.
fn version(explicit: &Option<String>, destination: &Destination, index: usize) -> String {
    match (explicit, &destination.subset) {
        (Some(version), _) | (None, Some(version)) => version.clone(),
        (None, None) => index.to_string(),
    }
}

/// The entry's cohort, when `sticky` names one. `versions` are the `version` extensions (present
/// only in the HTTPRoute shape, where they have no use outside a cohort), `targets_path` where
/// the destinations are listed.
pub fn cohort(
    name: Option<&str>,
    versions: &[Option<String>],
    destinations: &[Destination],
    rollout: Option<&Rollout>,
    targets_path: &JsonPath<'_>,
) -> ConfigResult<Option<Cohort>> {
    let Some(name) = name else {
        return match versions.iter().position(Option::is_some) {
            Some(index) => Err(ConfigError::at(
                &targets_path.index(index).key("version"),
                "lines destinations up in a sticky.cohort, and this entry names none; give sticky.cohort or remove version",
            )),
            None => Ok(None),
        };
    };
    let mut names: Vec<String> = Vec::with_capacity(destinations.len());
    for (index, destination) in destinations.iter().enumerate() {
        let explicit = versions.get(index).unwrap_or(&None);
        let this = version(explicit, destination, index);
        if let Some(first) = names.iter().position(|v| *v == this) {
            return Err(ConfigError::at(
                &targets_path.index(index),
                format!("has version \"{this}\" as destination {first} does; in sticky.cohort \"{name}\" each destination needs its own version (subset, or version on a backendRef)"),
            ));
        }
        names.push(this);
    }
    let growing = rollout.map(|r| r.schedule.growing());
    let newer = newer_destination(destinations.len(), growing.as_deref());
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    Ok(Some(Cohort::new(name, &names, newer)))
}
