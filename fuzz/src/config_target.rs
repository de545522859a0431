//! Fuzz entry for the configuration parser: the input as configuration bytes, then the input as a list
//! of JSON edits to the rich configuration (reaching deep validation that random bytes rarely do).

use super::checks::parse_and_check;
use super::mutate::mutated_rich_config;

pub fn config(data: &[u8]) {
    parse_and_check(data);
    parse_and_check(&mutated_rich_config(data));
}
