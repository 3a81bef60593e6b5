//! The small JSON-path dialect of the upstream field tables (`$.a.b[*].c`, `$.annotations["k"]`),
//! and the value conversions the Falco plugins apply.

use std::borrow::Cow;

use serde_json::Value as Json;
use tripline_event::{FieldType, Value};

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    /// Object key.
    Key(String),
    /// Every element of an array (`[*]`).
    Each,
}

/// Parses `$.a.b[*].c` or `$.annotations["x/y"]`; `None` for anything else.
pub fn parse(path: &str) -> Option<Vec<Seg>> {
    let mut rest = path.trim().strip_prefix('$')?;
    let mut segs = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("[*]") {
            segs.push(Seg::Each);
            rest = r;
        } else if let Some(r) = rest.strip_prefix("[\"") {
            let end = r.find("\"]")?;
            segs.push(Seg::Key(r[..end].to_string()));
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            segs.push(Seg::Key(key.to_string()));
            rest = &r[end..];
        } else {
            return None;
        }
    }
    Some(segs)
}

/// Follows `segs`; at the first `[*]`, `index` picks one element instead of all.
pub fn walk<'a>(v: &'a Json, segs: &[Seg], index: Option<usize>, out: &mut Vec<&'a Json>) {
    match segs.split_first() {
        None => out.push(v),
        Some((Seg::Key(k), rest)) => {
            if let Some(next) = v.get(k.as_str()) {
                walk(next, rest, index, out);
            }
        }
        Some((Seg::Each, rest)) => {
            if let Json::Array(items) = v {
                match index {
                    Some(i) => {
                        if let Some(item) = items.get(i) {
                            walk(item, rest, None, out);
                        }
                    }
                    None => items.iter().for_each(|item| walk(item, rest, None, out)),
                }
            }
        }
    }
}

/// First value at a plain key path.
pub fn get<'a>(v: &'a Json, keys: &[&str]) -> Option<&'a Json> {
    keys.iter().try_fold(v, |cur, k| cur.get(*k))
}

/// k8saudit/json conversion: strings as their contents, anything else as compact JSON text.
pub fn text(v: &Json) -> Cow<'_, str> {
    match v {
        Json::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

/// Converts to the field's declared type (numbers for uint64 fields, text otherwise).
pub fn typed(v: &Json, ty: FieldType) -> Option<Value<'_>> {
    Some(match ty {
        FieldType::Unsigned => Value::Unsigned(match v {
            Json::Number(n) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))?,
            Json::String(s) => s.parse().ok()?,
            _ => return None,
        }),
        _ => Value::Str(text(v)),
    })
}

/// Splits an image reference into its repository part (no tag, no digest).
pub fn image_repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(i) => &image[..last_slash + i],
        None => image,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_table_paths() {
        assert_eq!(
            parse("$.requestObject.spec.containers[*].image").unwrap(),
            vec![
                Seg::Key("requestObject".into()),
                Seg::Key("spec".into()),
                Seg::Key("containers".into()),
                Seg::Each,
                Seg::Key("image".into())
            ]
        );
        assert_eq!(
            parse(r#"$.annotations["authorization.k8s.io/decision"]"#).unwrap(),
            vec![
                Seg::Key("annotations".into()),
                Seg::Key("authorization.k8s.io/decision".into())
            ]
        );
        assert!(parse("$.eventSource minus x").is_none());
    }

    #[test]
    fn walks_with_index_and_skips_missing() {
        let v = json!({"c": [{"i": "a"}, {}, {"i": "b"}]});
        let segs = parse("$.c[*].i").unwrap();
        let mut out = Vec::new();
        walk(&v, &segs, None, &mut out);
        assert_eq!(out, vec![&json!("a"), &json!("b")]);
        out.clear();
        walk(&v, &segs, Some(2), &mut out);
        assert_eq!(out, vec![&json!("b")]);
    }

    #[test]
    fn repository_of_images() {
        assert_eq!(image_repository("nginx:1.2"), "nginx");
        assert_eq!(
            image_repository("registry:5000/team/app:v1"),
            "registry:5000/team/app"
        );
        assert_eq!(image_repository("busybox@sha256:abc"), "busybox");
        assert_eq!(image_repository("registry:5000/app"), "registry:5000/app");
    }
}
