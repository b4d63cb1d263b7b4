//! SQL-level `PREPARE name [(types)] AS statement` and `EXECUTE name(args)`.
//!
//! A SQL prepared statement is planned once by the same path as a
//! protocol-level Parse (`prepare_statement`) and kept in the session's
//! `prepared` map (`DEALLOCATE` / `DISCARD ALL` drop it, see settings.rs).
//! `EXECUTE` turns each argument, which PostgreSQL allows to be any
//! constant expression, into a value of the parameter's type: literals
//! directly (text input of the type), anything else by evaluating
//! `SELECT expr::type` in this session. The statement then runs like a
//! bound portal and its result (rows and tag) is EXECUTE's result.

use sqlparser::ast::{self, Expr};

use crate::error::{Error, Result};
use crate::session::{QueryResult, Session};
use crate::types::{DataType, Value};
use crate::SqlState;

impl Session {
    pub(crate) fn sql_prepare(
        &mut self,
        name: &ast::Ident,
        data_types: &[ast::DataType],
        statement: &ast::Statement,
    ) -> Result<QueryResult> {
        if self.prepared.contains_key(&name.value) {
            return Err(Error::new(
                SqlState::DUPLICATE_PREPARED_STATEMENT,
                format!("prepared statement \"{}\" already exists", name.value),
            ));
        }
        let mut types = Vec::with_capacity(data_types.len());
        for dt in data_types {
            let t = crate::types::oid::parse_type_name(&dt.to_string(), &[]).ok_or_else(|| {
                Error::new(SqlState("42704"), format!("type \"{dt}\" does not exist"))
            })?;
            types.push(Some(t));
        }
        let prepared = self.prepare_statement(&statement.to_string(), &types)?;
        self.prepared.insert(name.value.clone(), prepared);
        Ok(QueryResult::Command {
            tag: "PREPARE".into(),
        })
    }

    pub(crate) fn sql_execute(
        &mut self,
        name: Option<&ast::ObjectName>,
        parameters: &[Expr],
    ) -> Result<QueryResult> {
        let name = name.map(|n| n.to_string()).unwrap_or_default();
        let Some(prepared) = self.prepared.get(&name).cloned() else {
            return Err(Error::new(
                SqlState::INVALID_SQL_STATEMENT_NAME,
                format!("prepared statement \"{name}\" does not exist"),
            ));
        };
        if parameters.len() != prepared.param_types.len() {
            return Err(Error::new(
                SqlState("42601"),
                format!(
                    "wrong number of parameters for prepared statement \"{name}\"\nExpected {} parameters but got {}.",
                    prepared.param_types.len(),
                    parameters.len()
                ),
            ));
        }
        let mut values = Vec::with_capacity(parameters.len());
        for (expr, ty) in parameters.iter().zip(prepared.param_types.iter()) {
            values.push(self.constant(expr, ty)?);
        }
        self.execute_prepared(&prepared, values)
    }

    /// The value of a constant argument as type `ty`.
    fn constant(&mut self, expr: &Expr, ty: &DataType) -> Result<Value> {
        if let Expr::Value(v) = expr {
            match &v.value {
                ast::Value::Null => return Ok(Value::Null),
                ast::Value::SingleQuotedString(s) | ast::Value::Number(s, _) => {
                    return crate::types::text::parse(s, ty)
                }
                _ => {}
            }
        }
        let sql = format!("SELECT ({expr})::{}", crate::types::oid::type_name(ty));
        let results = self.simple_query(&sql);
        match results.into_iter().last() {
            Some(Ok(QueryResult::Rows { rows, .. })) => Ok(rows
                .into_iter()
                .next()
                .and_then(|r| r.into_iter().next())
                .unwrap_or(Value::Null)),
            Some(Err(e)) => Err(e),
            _ => Err(Error::new(
                SqlState("42601"),
                format!("EXECUTE argument is not a constant: {expr}"),
            )),
        }
    }
}
