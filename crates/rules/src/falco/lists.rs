//! Falco's textual list expansion: list names in condition text become their items.

/// Quotes an item that contains a space and is not already quoted (Falco's only escaping).
pub fn quote_item(item: &str) -> String {
    if item.contains(' ') && !item.starts_with('"') && !item.starts_with('\'') {
        format!("\"{item}\"")
    } else {
        item.to_string()
    }
}

fn is_delim(c: Option<u8>) -> bool {
    match c {
        None => true,
        Some(b) => b.is_ascii_whitespace() || matches!(b, b'(' | b')' | b',' | b'='),
    }
}

/// Replaces every delimited occurrence of `name` in `text` by `items` joined with `", "`.
/// Returns `None` when the name does not occur.
pub fn replace_list(text: &str, name: &str, items: &[String]) -> Option<String> {
    if name.is_empty() || !text.contains(name) {
        return None;
    }
    let joined = items
        .iter()
        .map(|i| quote_item(i))
        .collect::<Vec<_>>()
        .join(", ");
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + joined.len());
    let mut last = 0;
    let mut found = false;
    let mut search = 0;
    while let Some(rel) = text[search..].find(name) {
        let start = search + rel;
        let end = start + name.len();
        let before = if start == 0 {
            None
        } else {
            Some(bytes[start - 1])
        };
        if is_delim(before) && is_delim(bytes.get(end).copied()) {
            found = true;
            out.push_str(&text[last..start]);
            if items.is_empty() {
                // Drop the comma that separated this (now empty) list from its neighbour.
                let trimmed = out.trim_end();
                if trimmed.ends_with(',') {
                    let keep = trimmed.len() - 1;
                    out.truncate(keep);
                    out.push(' ');
                    last = end;
                } else {
                    let rest = &text[end..];
                    let ws = rest.len() - rest.trim_start().len();
                    if rest.trim_start().starts_with(',') {
                        last = end + ws + 1;
                    } else {
                        last = end;
                    }
                }
            } else {
                out.push_str(&joined);
                last = end;
            }
            search = last.max(end);
        } else {
            search = start + 1;
        }
    }
    if !found {
        return None;
    }
    out.push_str(&text[last..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn replaces_delimited_names_only() {
        let out = replace_list(
            "proc.name in (shells, x) and shells_extra=1",
            "shells",
            &items(&["bash", "my shell"]),
        )
        .unwrap();
        assert_eq!(
            out,
            "proc.name in (bash, \"my shell\", x) and shells_extra=1"
        );
        assert_eq!(replace_list("a=b", "shells", &items(&["x"])), None);
    }

    #[test]
    fn empty_lists_drop_their_comma() {
        assert_eq!(
            replace_list("x in (a, e)", "e", &[])
                .unwrap()
                .replace(' ', ""),
            "xin(a)"
        );
        assert_eq!(
            replace_list("x in (e, a)", "e", &[])
                .unwrap()
                .replace(' ', ""),
            "xin(a)"
        );
        assert_eq!(
            replace_list("x in (e)", "e", &[]).unwrap().replace(' ', ""),
            "xin()"
        );
    }
}
