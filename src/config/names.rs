//! Header and cookie names the configuration may use.

use super::error::{ConfigError, ConfigResult};
use super::json::Value;
use super::path::JsonPath;
use super::read;

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

/// The pseudo-headers Istio lets a match name (HTTP/2's request and response pseudo-headers).
const PSEUDO_HEADERS: &[&str] = &[":method", ":scheme", ":authority", ":path", ":status"];

/// A header name in a VirtualService match (`headers`, `withoutHeaders`), validated as Istio does
/// (RFC 9110 token characters, or one of [`PSEUDO_HEADERS`]) and returned lowercase: Envoy matches
/// header names case-insensitively, so `End-User` means `end-user`.
pub fn match_header_name(name: &str, path: &JsonPath<'_>) -> ConfigResult<String> {
    if name.starts_with("@request.auth.claims") {
        return Err(ConfigError::at(
            path,
            "routing on JWT claims (@request.auth.claims) is not implemented by traffic-shift",
        ));
    }
    let lower = name.to_ascii_lowercase();
    let valid = if lower.starts_with(':') {
        PSEUDO_HEADERS.contains(&lower.as_str())
    } else {
        !lower.is_empty() && lower.bytes().all(is_token_byte)
    };
    if !valid {
        return Err(ConfigError::at(
            path,
            format!("\"{name}\" is not a valid header name"),
        ));
    }
    Ok(lower)
}

/// A DNS-1123 label (a subset name, as Istio requires): lowercase letters, digits and `-`, at most
/// 63, starting and ending with a letter or digit.
pub fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    (1..=63).contains(&bytes.len())
        && bytes.first().is_some_and(edge)
        && bytes.last().is_some_and(edge)
        && bytes.iter().all(|b| edge(b) || *b == b'-')
}

/// A Kubernetes name that must be a DNS-1123 label (a namespace, a Service); `what` names it in
/// the refusal.
pub fn dns_label<'v>(
    value: &'v Value<'v>,
    path: &JsonPath<'_>,
    what: &str,
) -> ConfigResult<&'v str> {
    let text = read::non_empty_string(value, path)?;
    if !is_dns_label(text) {
        return Err(ConfigError::at(
            path,
            format!("\"{text}\" is not a valid {what} name (lowercase letters, digits and \"-\", at most 63)"),
        ));
    }
    Ok(text)
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
