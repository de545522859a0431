//! The one error a configuration can have: where it is and what is wrong.

use super::path::JsonPath;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub reason: String,
}

impl ConfigError {
    pub fn at(path: &JsonPath<'_>, reason: impl Into<String>) -> Self {
        ConfigError {
            path: path.to_string(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "traffic-shift: invalid configuration at {}: {}",
            self.path, self.reason
        )
    }
}

pub type ConfigResult<T> = Result<T, ConfigError>;
