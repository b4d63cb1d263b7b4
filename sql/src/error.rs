//! Errors of the SQL layer.
//!
//! Every failure a client can see carries its PostgreSQL SQLSTATE, because the
//! protocol edge (the node's pgwire server, the proxy) must answer with the
//! same code PostgreSQL 15 would. `Error` is the one error type of this crate;
//! storage engines (RocksDB in the node, the in-memory engine in tests) report
//! through it too, using the `Storage` variant for faults that are about the
//! machine, not the statement.

use std::fmt;

/// A five-character SQLSTATE code (see PostgreSQL's errcodes.txt).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SqlState(pub &'static str);

impl fmt::Debug for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Display for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

#[allow(missing_docs)]
impl SqlState {
    pub const SUCCESSFUL_COMPLETION: SqlState = SqlState("00000");
    pub const WARNING: SqlState = SqlState("01000");
    pub const NO_ACTIVE_SQL_TRANSACTION: SqlState = SqlState("25P01");
    pub const ACTIVE_SQL_TRANSACTION: SqlState = SqlState("25001");
    pub const IN_FAILED_SQL_TRANSACTION: SqlState = SqlState("25P02");
    pub const READ_ONLY_SQL_TRANSACTION: SqlState = SqlState("25006");
    pub const INVALID_TRANSACTION_STATE: SqlState = SqlState("25000");
    pub const SERIALIZATION_FAILURE: SqlState = SqlState("40001");
    pub const DEADLOCK_DETECTED: SqlState = SqlState("40P01");
    pub const SYNTAX_ERROR: SqlState = SqlState("42601");
    pub const UNDEFINED_TABLE: SqlState = SqlState("42P01");
    pub const UNDEFINED_COLUMN: SqlState = SqlState("42703");
    pub const UNDEFINED_FUNCTION: SqlState = SqlState("42883");
    pub const UNDEFINED_OBJECT: SqlState = SqlState("42704");
    pub const UNDEFINED_PARAMETER: SqlState = SqlState("42P02");
    pub const UNDEFINED_DATABASE: SqlState = SqlState("3D000");
    pub const DUPLICATE_TABLE: SqlState = SqlState("42P07");
    pub const DUPLICATE_COLUMN: SqlState = SqlState("42701");
    pub const DUPLICATE_OBJECT: SqlState = SqlState("42710");
    pub const DUPLICATE_DATABASE: SqlState = SqlState("42P04");
    pub const DUPLICATE_ALIAS: SqlState = SqlState("42712");
    pub const AMBIGUOUS_COLUMN: SqlState = SqlState("42702");
    pub const AMBIGUOUS_FUNCTION: SqlState = SqlState("42725");
    pub const DATATYPE_MISMATCH: SqlState = SqlState("42804");
    pub const CANNOT_COERCE: SqlState = SqlState("42846");
    pub const GROUPING_ERROR: SqlState = SqlState("42803");
    pub const WRONG_OBJECT_TYPE: SqlState = SqlState("42809");
    pub const INVALID_COLUMN_REFERENCE: SqlState = SqlState("42P10");
    pub const INVALID_TABLE_DEFINITION: SqlState = SqlState("42P16");
    pub const INVALID_RECURSION: SqlState = SqlState("42P19");
    pub const UNDEFINED_CURSOR: SqlState = SqlState("34000");
    pub const INVALID_SQL_STATEMENT_NAME: SqlState = SqlState("26000");
    pub const DUPLICATE_PREPARED_STATEMENT: SqlState = SqlState("42P05");
    pub const FEATURE_NOT_SUPPORTED: SqlState = SqlState("0A000");
    pub const INVALID_PARAMETER_VALUE: SqlState = SqlState("22023");
    pub const INVALID_TEXT_REPRESENTATION: SqlState = SqlState("22P02");
    pub const INVALID_BINARY_REPRESENTATION: SqlState = SqlState("22P03");
    pub const INVALID_DATETIME_FORMAT: SqlState = SqlState("22007");
    pub const DATETIME_FIELD_OVERFLOW: SqlState = SqlState("22008");
    pub const NUMERIC_VALUE_OUT_OF_RANGE: SqlState = SqlState("22003");
    pub const DIVISION_BY_ZERO: SqlState = SqlState("22012");
    pub const STRING_DATA_RIGHT_TRUNCATION: SqlState = SqlState("22001");
    pub const INVALID_ESCAPE_SEQUENCE: SqlState = SqlState("22025");
    pub const INVALID_REGULAR_EXPRESSION: SqlState = SqlState("2201B");
    pub const CARDINALITY_VIOLATION: SqlState = SqlState("21000");
    pub const INVALID_ROW_COUNT_IN_LIMIT: SqlState = SqlState("2201W");
    pub const INVALID_ROW_COUNT_IN_OFFSET: SqlState = SqlState("2201X");
    pub const ARRAY_SUBSCRIPT_ERROR: SqlState = SqlState("2202E");
    pub const NULL_VALUE_NOT_ALLOWED: SqlState = SqlState("22004");
    pub const INVALID_JSON_TEXT: SqlState = SqlState("22P02");
    pub const UNTRANSLATABLE_CHARACTER: SqlState = SqlState("22P05");
    pub const CHARACTER_NOT_IN_REPERTOIRE: SqlState = SqlState("22021");
    pub const NOT_NULL_VIOLATION: SqlState = SqlState("23502");
    pub const FOREIGN_KEY_VIOLATION: SqlState = SqlState("23503");
    pub const UNIQUE_VIOLATION: SqlState = SqlState("23505");
    pub const CHECK_VIOLATION: SqlState = SqlState("23514");
    pub const OBJECT_NOT_IN_PREREQUISITE_STATE: SqlState = SqlState("55000");
    pub const OBJECT_IN_USE: SqlState = SqlState("55006");
    pub const CANT_CHANGE_RUNTIME_PARAM: SqlState = SqlState("55P02");
    pub const DEPENDENT_OBJECTS_STILL_EXIST: SqlState = SqlState("2BP01");
    pub const QUERY_CANCELED: SqlState = SqlState("57014");
    pub const ADMIN_SHUTDOWN: SqlState = SqlState("57P01");
    pub const PROTOCOL_VIOLATION: SqlState = SqlState("08P01");
    pub const PROGRAM_LIMIT_EXCEEDED: SqlState = SqlState("54000");
    pub const STATEMENT_TOO_COMPLEX: SqlState = SqlState("54001");
    pub const INVALID_PASSWORD: SqlState = SqlState("28P01");
    pub const INVALID_AUTHORIZATION: SqlState = SqlState("28000");
    pub const INSUFFICIENT_PRIVILEGE: SqlState = SqlState("42501");
    pub const IO_ERROR: SqlState = SqlState("58030");
    pub const DATA_CORRUPTED: SqlState = SqlState("XX001");
    pub const INTERNAL_ERROR: SqlState = SqlState("XX000");
}

/// The error type of the SQL layer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The statement failed; the client sees `state` and `message`.
    #[error("{message}")]
    Sql {
        state: SqlState,
        message: String,
        detail: Option<String>,
        hint: Option<String>,
    },
    /// The machine failed (disk, corruption). Not the statement's fault, and
    /// not deterministic: a replica applying the same record may succeed.
    #[error("storage failure: {0}")]
    Storage(String),
}

/// The result type of the SQL layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A statement error with the given SQLSTATE.
    pub fn new(state: SqlState, message: impl Into<String>) -> Self {
        Error::Sql {
            state,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    /// Attaches a DETAIL line.
    pub fn with_detail(mut self, text: impl Into<String>) -> Self {
        if let Error::Sql { detail, .. } = &mut self {
            *detail = Some(text.into());
        }
        self
    }

    /// Attaches a HINT line.
    pub fn with_hint(mut self, text: impl Into<String>) -> Self {
        if let Error::Sql { hint, .. } = &mut self {
            *hint = Some(text.into());
        }
        self
    }

    /// The SQLSTATE the client must see.
    pub fn state(&self) -> SqlState {
        match self {
            Error::Sql { state, .. } => *state,
            Error::Storage(_) => SqlState::IO_ERROR,
        }
    }

    /// The primary message.
    pub fn message(&self) -> String {
        match self {
            Error::Sql { message, .. } => message.clone(),
            Error::Storage(m) => format!("storage failure: {m}"),
        }
    }

    /// The DETAIL line, if any.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Error::Sql { detail, .. } => detail.as_deref(),
            Error::Storage(_) => None,
        }
    }

    /// The HINT line, if any.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Sql { hint, .. } => hint.as_deref(),
            Error::Storage(_) => None,
        }
    }

    /// Whether the same input fails the same way everywhere (a bad statement
    /// or record) rather than because of this machine (a broken disk).
    pub fn is_deterministic(&self) -> bool {
        matches!(self, Error::Sql { .. })
    }

    /// `42601`: the text is not SQL we can parse.
    pub fn syntax(message: impl Into<String>) -> Self {
        Self::new(SqlState::SYNTAX_ERROR, message)
    }

    /// `0A000`: valid SQL that RustyDB does not implement.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(SqlState::FEATURE_NOT_SUPPORTED, message)
    }

    /// `XX000`: a broken invariant of ours.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(SqlState::INTERNAL_ERROR, message)
    }

    /// `22P02`: text that does not parse as the wanted type.
    pub fn invalid_text(type_name: &str, text: &str) -> Self {
        Self::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type {type_name}: \"{text}\""),
        )
    }

    /// `22003`: a value outside its type's range.
    pub fn out_of_range(type_name: &str) -> Self {
        Self::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("{type_name} out of range"),
        )
    }

    /// `22012`.
    pub fn division_by_zero() -> Self {
        Self::new(SqlState::DIVISION_BY_ZERO, "division by zero")
    }
}

/// Shorthand for returning a statement error: `bail!(SYNTAX_ERROR, "...")`.
#[macro_export]
macro_rules! bail {
    ($state:ident, $($arg:tt)*) => {
        return Err($crate::Error::new($crate::SqlState::$state, format!($($arg)*)))
    };
}
