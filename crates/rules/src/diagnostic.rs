//! Load results: errors and warnings with Falco's codes, the file, line and item.

use std::fmt;

/// Falco's load result codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Code {
    ErrFileRead,
    ErrYamlParse,
    ErrYamlValidate,
    ErrCompileCondition,
    ErrCompileOutput,
    ErrValidate,
    UnknownSource,
    UnsafeNaCheck,
    NoEvttype,
    UnknownFilter,
    UnusedMacro,
    UnusedList,
    UnknownItem,
    DeprecatedItem,
    AppendNoValues,
    ExceptionNameNotUnique,
    InvalidMacroName,
    InvalidListName,
    UnknownKey,
}

impl Code {
    /// The name Falco prints, such as `LOAD_ERR_YAML_VALIDATE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::ErrFileRead => "LOAD_ERR_FILE_READ",
            Code::ErrYamlParse => "LOAD_ERR_YAML_PARSE",
            Code::ErrYamlValidate => "LOAD_ERR_YAML_VALIDATE",
            Code::ErrCompileCondition => "LOAD_ERR_COMPILE_CONDITION",
            Code::ErrCompileOutput => "LOAD_ERR_COMPILE_OUTPUT",
            Code::ErrValidate => "LOAD_ERR_VALIDATE",
            Code::UnknownSource => "LOAD_UNKNOWN_SOURCE",
            Code::UnsafeNaCheck => "LOAD_UNSAFE_NA_CHECK",
            Code::NoEvttype => "LOAD_NO_EVTTYPE",
            Code::UnknownFilter => "LOAD_UNKNOWN_FILTER",
            Code::UnusedMacro => "LOAD_UNUSED_MACRO",
            Code::UnusedList => "LOAD_UNUSED_LIST",
            Code::UnknownItem => "LOAD_UNKNOWN_ITEM",
            Code::DeprecatedItem => "LOAD_DEPRECATED_ITEM",
            Code::AppendNoValues => "LOAD_APPEND_NO_VALUES",
            Code::ExceptionNameNotUnique => "LOAD_EXCEPTION_NAME_NOT_UNIQUE",
            Code::InvalidMacroName => "LOAD_INVALID_MACRO_NAME",
            Code::InvalidListName => "LOAD_INVALID_LIST_NAME",
            Code::UnknownKey => "LOAD_UNKNOWN_KEY",
        }
    }

    /// Whether this code is an error (as opposed to a warning).
    pub fn is_error(self) -> bool {
        self.as_str().starts_with("LOAD_ERR_")
    }
}

/// One error or warning from loading rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Falco's code.
    pub code: Code,
    /// `rule`, `macro`, `list`, `exception`, `rules content`, `rules content item`, ...
    pub item_type: &'static str,
    /// Name of the item, empty when it has none.
    pub item_name: String,
    /// What went wrong.
    pub message: String,
    /// File the item came from.
    pub file: String,
    /// 1-based line of the item (0 when unknown).
    pub line: usize,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {} ", self.file, self.line, self.code.as_str())?;
        if self.item_name.is_empty() {
            write!(f, "({})", self.item_type)?;
        } else {
            write!(f, "({} '{}')", self.item_type, self.item_name)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Everything loading reported.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Errors: the rules did not load.
    pub errors: Vec<Diagnostic>,
    /// Warnings: the rules loaded, with remarks.
    pub warnings: Vec<Diagnostic>,
}

impl LoadReport {
    /// Records a diagnostic in the right list.
    pub fn push(&mut self, d: Diagnostic) {
        if d.code.is_error() {
            self.errors.push(d);
        } else {
            self.warnings.push(d);
        }
    }

    /// No errors.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}
