//! Fuzz entry for the configuration parser: the input as configuration bytes, then the input as a list
//! of JSON edits to each rich configuration, VirtualService and HTTPRoute shape (reaching deep
//! validation that random bytes rarely do).

use crate::checks::parse_and_check;
use crate::mutate::{mutated_rich_config, mutated_rich_gateway_config};

/// Returns whether each of the two documents was a valid configuration (the smoke test counts them).
pub fn config(data: &[u8]) -> [bool; 3] {
    [
        parse_and_check(data).is_some(),
        parse_and_check(&mutated_rich_config(data)).is_some(),
        parse_and_check(&mutated_rich_gateway_config(data)).is_some(),
    ]
}
