//! Typed field values.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;

/// The declared type of a field, as listed in Falco's field tables.
///
/// Literals in rule conditions are converted to the left field's type once, at load time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// Text.
    String,
    /// Unsigned integer (also `uint32`, `uint16`, `port`, `abstime`, `reltime`...).
    Unsigned,
    /// Signed integer.
    Signed,
    /// Floating point.
    Double,
    /// `true` / `false`.
    Bool,
    /// A single IPv4 or IPv6 address.
    IpAddr,
    /// A network in CIDR form.
    IpNet,
    /// Raw bytes (`evt.buffer`).
    Bytes,
}

impl FieldType {
    /// Maps a type name of the upstream field tables (`uint64`, `ipaddr`, `charbuf`...).
    pub fn from_table_name(name: &str) -> FieldType {
        match name {
            "uint64" | "uint32" | "uint16" | "uint8" | "port" | "abstime" | "reltime" | "fd"
            | "pid" | "flags32" | "flags16" | "flags8" | "mode" | "l4proto" | "sockfamily" => {
                FieldType::Unsigned
            }
            "int64" | "int32" | "int16" | "int8" | "errno" | "sock_tuple" => FieldType::Signed,
            "double" => FieldType::Double,
            "bool" => FieldType::Bool,
            "ipaddr" => FieldType::IpAddr,
            "ipnet" => FieldType::IpNet,
            "bytebuf" => FieldType::Bytes,
            _ => FieldType::String,
        }
    }
}

/// A value read from an event. Strings borrow from the event where they can.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// Text.
    Str(Cow<'a, str>),
    /// Unsigned integer.
    Unsigned(u64),
    /// Signed integer.
    Signed(i64),
    /// Floating point.
    Double(f64),
    /// Boolean.
    Bool(bool),
    /// IP address.
    Ip(IpAddr),
    /// IP network.
    Net(IpNet),
    /// Raw bytes.
    Bytes(Cow<'a, [u8]>),
    /// Several values (list fields); never empty: an empty list is an absent field.
    List(Vec<Value<'a>>),
}

impl<'a> From<Cow<'a, str>> for Value<'a> {
    fn from(s: Cow<'a, str>) -> Self {
        Value::Str(s)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Self {
        Value::Str(Cow::Borrowed(s))
    }
}

impl From<String> for Value<'_> {
    fn from(s: String) -> Self {
        Value::Str(Cow::Owned(s))
    }
}

impl Value<'_> {
    /// Renders the value as Falco prints it in outputs (lists as `(a,b)`).
    pub fn to_text(&self) -> Cow<'_, str> {
        match self {
            Value::Str(s) => Cow::Borrowed(s.as_ref()),
            Value::Unsigned(n) => Cow::Owned(n.to_string()),
            Value::Signed(n) => Cow::Owned(n.to_string()),
            Value::Double(n) => Cow::Owned(n.to_string()),
            Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Value::Ip(ip) => Cow::Owned(ip.to_string()),
            Value::Net(net) => Cow::Owned(net.to_string()),
            Value::Bytes(b) => String::from_utf8_lossy(b),
            Value::List(items) => {
                let mut out = String::from("(");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{}", item.to_text());
                }
                out.push(')');
                Cow::Owned(out)
            }
        }
    }

    /// The value as JSON, keeping numbers and booleans typed (Falco's `output_fields`).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Str(s) => serde_json::Value::String(s.to_string()),
            Value::Unsigned(n) => (*n).into(),
            Value::Signed(n) => (*n).into(),
            Value::Double(n) => serde_json::Number::from_f64(*n)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Bool(b) => (*b).into(),
            Value::List(items) => items.iter().map(Value::to_json).collect(),
            other => serde_json::Value::String(other.to_text().into_owned()),
        }
    }

    /// Converts borrowed parts into owned ones.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Unsigned(n) => Value::Unsigned(n),
            Value::Signed(n) => Value::Signed(n),
            Value::Double(n) => Value::Double(n),
            Value::Bool(b) => Value::Bool(b),
            Value::Ip(ip) => Value::Ip(ip),
            Value::Net(net) => Value::Net(net),
            Value::Bytes(b) => Value::Bytes(Cow::Owned(b.into_owned())),
            Value::List(items) => Value::List(items.into_iter().map(Value::into_owned).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_render_like_falco() {
        let v = Value::List(vec![Value::from("a"), Value::Unsigned(2)]);
        assert_eq!(v.to_text(), "(a,2)");
        assert_eq!(v.to_json(), serde_json::json!(["a", 2]));
    }

    #[test]
    fn table_type_names_map() {
        assert_eq!(FieldType::from_table_name("port"), FieldType::Unsigned);
        assert_eq!(FieldType::from_table_name("ipnet"), FieldType::IpNet);
        assert_eq!(FieldType::from_table_name("charbuf"), FieldType::String);
    }
}
