//! The binary wire format (send/recv functions) for the common types.

use super::{DataType, Value};
use crate::error::{Error, Result};

/// Encodes a non-NULL value in binary format for the given column type.
pub fn encode(value: &Value, _ty: &DataType) -> Result<Vec<u8>> {
    match value {
        Value::Int4(v) => Ok(v.to_be_bytes().to_vec()),
        Value::Int8(v) => Ok(v.to_be_bytes().to_vec()),
        Value::Text(s) => Ok(s.as_bytes().to_vec()),
        _ => Err(Error::unsupported("binary format for this type")),
    }
}

/// Decodes a binary-format parameter of the given type.
pub fn decode(bytes: &[u8], ty: &DataType) -> Result<Value> {
    match ty {
        DataType::Int4 => Ok(Value::Int4(i32::from_be_bytes(bytes.try_into().map_err(
            |_| {
                Error::new(
                    crate::SqlState::INVALID_BINARY_REPRESENTATION,
                    "insufficient data left in message",
                )
            },
        )?))),
        _ => Err(Error::unsupported("binary format for this type")),
    }
}
