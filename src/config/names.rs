//! Header and cookie names the configuration may use.

use super::error::{ConfigError, ConfigResult};
use super::path::JsonPath;
use super::read;
use serde_json::Value;

/// RFC 9110 token characters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A lowercase header name: Envoy stores header names lowercase, so an uppercase one would
/// never match or would be rewritten behind the user's back.
pub fn header_name(name: &str, path: &JsonPath<'_>) -> ConfigResult<String> {
    let bare = name.strip_prefix(':').unwrap_or(name);
    if bare.is_empty() || !bare.bytes().all(is_token_byte) {
        return Err(ConfigError::at(
            path,
            format!("\"{name}\" is not a valid header name"),
        ));
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ConfigError::at(
            path,
            format!(
                "header names must be lowercase: write \"{}\"",
                name.to_ascii_lowercase()
            ),
        ));
    }
    Ok(name.to_string())
}

/// A header the filter writes: a regular (not pseudo) header.
pub fn writable_header(value: &Value, path: &JsonPath<'_>) -> ConfigResult<String> {
    let name = header_name(read::string(value, path)?, path)?;
    if name.starts_with(':') || name == "host" {
        return Err(ConfigError::at(
            path,
            format!("\"{name}\" cannot be set by the filter; choose an ordinary header name"),
        ));
    }
    Ok(name)
}

pub fn cookie_name(value: &Value, path: &JsonPath<'_>) -> ConfigResult<Vec<u8>> {
    let name = read::non_empty_string(value, path)?;
    if !name.bytes().all(is_token_byte) {
        return Err(ConfigError::at(
            path,
            format!("\"{name}\" is not a valid cookie name"),
        ));
    }
    Ok(name.as_bytes().to_vec())
}

/// A rendered cluster name travels in a header: printable ASCII without spaces.
pub fn check_cluster_name(cluster: &str, path: &JsonPath<'_>) -> ConfigResult<()> {
    if cluster.is_empty() {
        return Err(ConfigError::at(
            path,
            "the clusterName template renders an empty cluster name for this destination",
        ));
    }
    if !cluster.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::at(
            path,
            format!("cluster name \"{cluster}\" may only hold printable ASCII without spaces"),
        ));
    }
    Ok(())
}
