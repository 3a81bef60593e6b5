//! Field tables: what each source can be asked, resolved once at load time.

use std::collections::HashMap;

use crate::value::FieldType;

/// Whether a field takes an argument (`proc.aname[2]`, `ka.uri.param[command]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgSpec {
    /// No argument allowed.
    None,
    /// An optional numeric index.
    OptionalIndex,
    /// A required numeric index.
    RequiredIndex,
    /// An optional key (text).
    OptionalKey,
    /// A required key (text).
    RequiredKey,
}

impl ArgSpec {
    /// Reads the `arg` column of the upstream tables (`index (optional)`, `key (required)`,
    /// `required`, `optional`, `JSON pointer (required)`).
    pub fn from_table_text(text: &str) -> ArgSpec {
        let text = text.trim();
        let required = text.contains("required");
        let optional = text.contains("optional");
        let index = text.starts_with("index");
        match (required, optional, index) {
            (false, false, _) => ArgSpec::None,
            (true, _, true) => ArgSpec::RequiredIndex,
            (true, _, false) => ArgSpec::RequiredKey,
            (false, true, true) => ArgSpec::OptionalIndex,
            (false, true, false) => ArgSpec::OptionalKey,
        }
    }

    fn is_index(self) -> bool {
        matches!(self, ArgSpec::OptionalIndex | ArgSpec::RequiredIndex)
    }
}

/// The argument given to a field in a rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum FieldArg {
    /// No argument.
    #[default]
    None,
    /// A decimal index (`[0]`).
    Index(usize),
    /// A key or path (`[command]`, `[/objectRef/resource]`).
    Key(String),
}

impl FieldArg {
    /// The argument as text, as the user wrote it.
    pub fn text(&self) -> Option<String> {
        match self {
            FieldArg::None => None,
            FieldArg::Index(i) => Some(i.to_string()),
            FieldArg::Key(k) => Some(k.clone()),
        }
    }
}

/// One row of a source's field table.
#[derive(Debug, Clone)]
pub struct FieldDef {
    /// Full name, such as `ka.verb`.
    pub name: String,
    /// Value type.
    pub ty: FieldType,
    /// Yields several values; only `exists`, `in` and `intersects` apply.
    pub list: bool,
    /// Argument rules.
    pub arg: ArgSpec,
    /// One-line description for `tripline fields`.
    pub description: String,
    /// The field may not appear inside `val()` or a transformer.
    pub no_transform: bool,
}

impl FieldDef {
    /// A scalar field without argument.
    pub fn new(name: &str, ty: FieldType, description: &str) -> FieldDef {
        FieldDef {
            name: name.to_string(),
            ty,
            list: false,
            arg: ArgSpec::None,
            description: description.to_string(),
            no_transform: false,
        }
    }
}

/// A field resolved against a table: what the extractor needs per event.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRef {
    /// Index of the field in its table (sources dispatch on it).
    pub id: u32,
    /// The argument, already parsed.
    pub arg: FieldArg,
    /// Value type.
    pub ty: FieldType,
    /// Whether the field yields several values.
    pub list: bool,
    /// Name as written in rules, with its argument (`proc.aname[2]`).
    pub display: String,
}

/// Why a field name did not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindError {
    /// No field of that name in the table.
    Unknown,
    /// The field needs an argument and none was given.
    MissingArg,
    /// The field takes no argument, or the argument has the wrong shape.
    BadArg(String),
}

/// All fields of one source, looked up by name.
#[derive(Debug, Clone, Default)]
pub struct FieldTable {
    defs: Vec<FieldDef>,
    by_name: HashMap<String, u32>,
}

impl FieldTable {
    /// Builds a table; the position of each definition is its id.
    pub fn new(defs: Vec<FieldDef>) -> FieldTable {
        let by_name = defs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.clone(), i as u32))
            .collect();
        FieldTable { defs, by_name }
    }

    /// Parses a tab-separated field table with a header row naming at least `name` and `type`,
    /// and optionally `list`, `arg`, `description`, `flags` (the upstream table layout).
    pub fn from_tsv(text: &str) -> FieldTable {
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
        let col = |name: &str| header.iter().position(|h| *h == name);
        let (name_c, ty_c, list_c, arg_c, desc_c, flags_c) = (
            col("name"),
            col("type"),
            col("list"),
            col("arg"),
            col("description"),
            col("flags"),
        );
        let mut defs = Vec::new();
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let cells: Vec<&str> = line.split('\t').collect();
            let get = |c: Option<usize>| c.and_then(|i| cells.get(i)).copied().unwrap_or("");
            let flags = get(flags_c);
            defs.push(FieldDef {
                name: get(name_c).to_string(),
                ty: FieldType::from_table_name(get(ty_c)),
                list: get(list_c) == "yes" || flags.split(',').any(|f| f.trim() == "list"),
                arg: ArgSpec::from_table_text(get(arg_c)),
                description: get(desc_c).to_string(),
                no_transform: flags.contains("not allowed inside val()")
                    || flags.contains("no transformers"),
            });
        }
        FieldTable::new(defs)
    }

    /// Adds definitions from another table; names already present are kept.
    pub fn extend(&mut self, other: &FieldTable) {
        for def in &other.defs {
            if !self.by_name.contains_key(&def.name) {
                self.by_name
                    .insert(def.name.clone(), self.defs.len() as u32);
                self.defs.push(def.clone());
            }
        }
    }

    /// Every definition, in id order.
    pub fn defs(&self) -> &[FieldDef] {
        &self.defs
    }

    /// The definition with this id.
    pub fn def(&self, id: u32) -> &FieldDef {
        &self.defs[id as usize]
    }

    /// Looks a definition up by exact name.
    pub fn get(&self, name: &str) -> Option<(u32, &FieldDef)> {
        self.by_name
            .get(name)
            .map(|&id| (id, &self.defs[id as usize]))
    }

    /// Resolves `name` (and `arg`, the raw text between brackets if any) into a [`FieldRef`].
    /// A dotted argument (`evt.arg.name` for `evt.arg[name]`) is accepted for fields that take
    /// an argument.
    pub fn bind(&self, name: &str, arg: FieldArg) -> Result<FieldRef, BindError> {
        if let Some((id, def)) = self.get(name) {
            return self.bind_def(id, def, arg, name);
        }
        // Dotted argument form: the longest prefix that is a field taking an argument.
        if arg == FieldArg::None {
            let mut cut = name.len();
            while let Some(dot) = name[..cut].rfind('.') {
                if let Some((id, def)) = self.get(&name[..dot]) {
                    if def.arg != ArgSpec::None {
                        let text = name[dot + 1..].to_string();
                        return self.bind_def(id, def, FieldArg::Key(text), name);
                    }
                }
                cut = dot;
            }
        }
        Err(BindError::Unknown)
    }

    fn bind_def(
        &self,
        id: u32,
        def: &FieldDef,
        arg: FieldArg,
        written: &str,
    ) -> Result<FieldRef, BindError> {
        let arg = match (def.arg, arg) {
            (ArgSpec::None, FieldArg::None) => FieldArg::None,
            (ArgSpec::None, other) => {
                return Err(BindError::BadArg(format!(
                    "field '{}' does not take an argument (got '{}')",
                    def.name,
                    other.text().unwrap_or_default()
                )))
            }
            (ArgSpec::RequiredIndex | ArgSpec::RequiredKey, FieldArg::None) => {
                return Err(BindError::MissingArg)
            }
            (_, FieldArg::None) => FieldArg::None,
            (spec, FieldArg::Key(text)) if spec.is_index() => match parse_index(&text) {
                Some(i) => FieldArg::Index(i),
                None => {
                    return Err(BindError::BadArg(format!(
                        "field '{}' expects a numeric index, got '{text}'",
                        def.name
                    )))
                }
            },
            (_, arg) => arg,
        };
        let display = match (&arg, written == def.name) {
            (FieldArg::None, _) | (_, false) => written.to_string(),
            (a, true) => format!("{}[{}]", def.name, a.text().unwrap_or_default()),
        };
        Ok(FieldRef {
            id,
            arg,
            ty: def.ty,
            list: def.list,
            display,
        })
    }
}

/// Decimal without leading zeros, as Falco requires for index arguments.
fn parse_index(text: &str) -> Option<usize> {
    if text.is_empty() || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> FieldTable {
        FieldTable::from_tsv(
            "name\ttype\tlist\targ\tdescription\n\
             ka.verb\tstring\tno\t\tverb\n\
             ka.req.pod.containers.image\tstring\tyes\tindex (optional)\timages\n\
             ka.uri.param\tstring\tno\tkey (required)\tparam\n",
        )
    }

    #[test]
    fn binds_plain_index_and_key_arguments() {
        let t = table();
        assert_eq!(t.bind("ka.verb", FieldArg::None).unwrap().id, 0);
        let img = t
            .bind("ka.req.pod.containers.image", FieldArg::Key("0".into()))
            .unwrap();
        assert_eq!(img.arg, FieldArg::Index(0));
        assert!(img.list);
        assert_eq!(img.display, "ka.req.pod.containers.image[0]");
        assert_eq!(
            t.bind("ka.uri.param", FieldArg::None),
            Err(BindError::MissingArg)
        );
        assert!(matches!(
            t.bind("ka.verb", FieldArg::Key("x".into())),
            Err(BindError::BadArg(_))
        ));
        assert!(matches!(
            t.bind("ka.req.pod.containers.image", FieldArg::Key("01".into())),
            Err(BindError::BadArg(_))
        ));
    }

    #[test]
    fn dotted_argument_form() {
        let t = table();
        let f = t.bind("ka.uri.param.command", FieldArg::None).unwrap();
        assert_eq!(f.arg, FieldArg::Key("command".into()));
        assert_eq!(t.bind("ka.nope", FieldArg::None), Err(BindError::Unknown));
    }
}
