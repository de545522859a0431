//! The one error a configuration can have: where it is and what is wrong.

use super::path::JsonPath;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub reason: String,
}

impl ConfigError {
    /// Control characters from the user's strings are escaped: the error is one log line.
    pub fn at(path: &JsonPath<'_>, reason: impl Into<String>) -> Self {
        ConfigError {
            path: one_line(&path.to_string()),
            reason: one_line(&reason.into()),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration at {}: {}", self.path, self.reason)
    }
}

fn one_line(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().collect()
            } else {
                c.to_string()
            }
        })
        .collect()
}

pub type ConfigResult<T> = Result<T, ConfigError>;
