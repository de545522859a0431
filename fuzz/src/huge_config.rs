//! Configurations with many attributes, generated from a few input bytes: a count (up to 100,000
//! header names) and a layout (one name per entry or all in one, in either shape). The parser must
//! compile them in time linear in the count: the fuzzer's `-timeout` is the bound, and the
//! registry must hold each name once.

use crate::cursor::Cursor;

/// Most header names generated (the "all in one entry" layouts stay under the 4 MiB limit).
pub const MAX_NAMES: usize = 100_000;

/// The document for `names` header names in `layout` (0-3), with `repeat` names repeated.
pub fn document(names: usize, layout: u8, repeat: usize) -> String {
    let name = |i: usize| format!("x-h{}", if repeat > 0 { i % repeat } else { i });
    match layout % 4 {
        0 => format!(
            r#"{{"http":[{}]}}"#,
            (0..names)
                .map(|i| format!(
                    r#"{{"name":"e{i}","match":[{{"headers":{{"{}":{{}}}}}}],"route":[{{"destination":{{"host":"r"}}}}]}}"#,
                    name(i)
                ))
                .collect::<Vec<_>>()
                .join(",")
        ),
        1 => format!(
            r#"{{"http":[{{"name":"e","match":[{}],"route":[{{"destination":{{"host":"r"}}}}]}}]}}"#,
            (0..names)
                .map(|i| format!(r#"{{"headers":{{"{}":{{}}}}}}"#, name(i)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        2 => format!(
            r#"{{"rules":[{}]}}"#,
            (0..names)
                .map(|i| format!(
                    r#"{{"matches":[{{"headers":[{{"name":"{}","value":"1"}}]}}],"backendRefs":[{{"name":"r","port":1}}]}}"#,
                    name(i)
                ))
                .collect::<Vec<_>>()
                .join(",")
        ),
        _ => format!(
            r#"{{"rules":[{{"matches":[{{"headers":[{}]}}],"backendRefs":[{{"name":"r","port":1}}]}}]}}"#,
            (0..names)
                .map(|i| format!(r#"{{"name":"{}","value":"1"}}"#, name(i)))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

/// Input: two bytes of count (scaled to MAX_NAMES), a layout byte, two bytes of "repeat every".
/// An accepted configuration reads each distinct name once; a refused one says why in one line.
pub fn huge_config(data: &[u8]) {
    let mut cursor = Cursor::new(data);
    let count =
        usize::from(cursor.byte().unwrap_or(0)) | usize::from(cursor.byte().unwrap_or(0)) << 8;
    let names = count * MAX_NAMES / usize::from(u16::MAX);
    let layout = cursor.byte().unwrap_or(0);
    let repeat =
        usize::from(cursor.byte().unwrap_or(0)) | usize::from(cursor.byte().unwrap_or(0)) << 8;
    let text = document(names, layout, repeat);
    match traffic_shift::config::parse(text.as_bytes()) {
        Ok(router) => {
            let distinct = if repeat > 0 { names.min(repeat) } else { names };
            // Each distinct name once, plus what the configuration reads besides (`:authority`
            // for a destination without a port).
            let registered = router.attributes.len();
            assert!(
                (distinct..=distinct + 4).contains(&registered),
                "layout {layout}: {registered} attributes for {distinct} names"
            );
            if distinct > 0 {
                for i in [0, distinct - 1] {
                    assert!(
                        router.attributes.find_header(&format!("x-h{i}")).is_some(),
                        "layout {layout}"
                    );
                }
            }
        }
        Err(error) => {
            let line = error.to_string();
            assert!(!line.contains('\n'), "{line}");
            // Only the size limit, the duplicate-name check of HTTPRoute lists and the empty
            // configuration refuse these documents.
            assert!(
                line.contains("bytes, more than the")
                    || line.contains("give each name once")
                    || names == 0,
                "{line}"
            );
        }
    }
}
