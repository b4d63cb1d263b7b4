//! Named function arguments (`make_interval(days => 10)`).
//!
//! PostgreSQL matches `name => value` arguments to the function's declared
//! parameter names and fills the omitted ones from their defaults. Here a
//! call with named arguments is rewritten, before binding, into the
//! positional call it stands for: each named argument goes to its
//! parameter's position and the gaps before the last one given are filled
//! with the parameter defaults. Only functions with declared names and
//! defaults are listed; a named argument anywhere else, an unknown name or
//! a positional argument after a named one is refused as PostgreSQL does.

use sqlparser::ast;

use super::bind::ident;
use crate::error::{Error, Result};
use crate::SqlState;

/// The parameter names and defaults (SQL literals) of the functions that
/// accept named arguments.
fn parameters(name: &str) -> Option<&'static [(&'static str, &'static str)]> {
    Some(match name {
        "make_interval" => &[
            ("years", "0"),
            ("months", "0"),
            ("weeks", "0"),
            ("days", "0"),
            ("hours", "0"),
            ("mins", "0"),
            ("secs", "0.0"),
        ],
        _ => return None,
    })
}

/// The positional form of `f` when it has named arguments, else `None`.
pub(crate) fn positional(name: &str, f: &ast::Function) -> Result<Option<ast::Function>> {
    let ast::FunctionArguments::List(list) = &f.args else {
        return Ok(None);
    };
    let named = |a: &ast::FunctionArg| -> Option<(String, ast::FunctionArgExpr)> {
        match a {
            ast::FunctionArg::Named { name, arg, .. } => Some((ident(name), arg.clone())),
            ast::FunctionArg::ExprNamed {
                name: ast::Expr::Identifier(name),
                arg,
                ..
            } => Some((ident(name), arg.clone())),
            _ => None,
        }
    };
    if !list.args.iter().any(|a| named(a).is_some()) {
        return Ok(None);
    }
    let no_function = || {
        Error::new(
            SqlState::UNDEFINED_FUNCTION,
            format!("function {name} with these named arguments does not exist"),
        )
        .with_hint("No function matches the given name and argument types. You might need to add explicit type casts.")
    };
    let params = parameters(name).ok_or_else(no_function)?;
    let mut slots: Vec<Option<ast::FunctionArgExpr>> = vec![None; params.len()];
    let mut seen_named = false;
    for (i, a) in list.args.iter().enumerate() {
        match (named(a), a) {
            (Some((pname, value)), _) => {
                seen_named = true;
                let at = params
                    .iter()
                    .position(|(p, _)| *p == pname)
                    .ok_or_else(no_function)?;
                let slot = slots.get_mut(at).ok_or_else(no_function)?;
                if slot.is_some() {
                    return Err(Error::syntax(format!(
                        "argument name \"{pname}\" used more than once"
                    )));
                }
                *slot = Some(value);
            }
            (None, ast::FunctionArg::Unnamed(value)) if !seen_named => {
                let slot = slots.get_mut(i).ok_or_else(no_function)?;
                *slot = Some(value.clone());
            }
            _ => {
                return Err(Error::syntax(
                    "positional argument cannot follow named argument",
                ))
            }
        }
    }
    let last = slots.iter().rposition(Option::is_some).unwrap_or(0);
    let mut args = Vec::with_capacity(last + 1);
    for (slot, (_, default)) in slots.into_iter().zip(params).take(last + 1) {
        let value = match slot {
            Some(v) => v,
            None => ast::FunctionArgExpr::Expr(ast::Expr::value(ast::Value::Number(
                (*default).to_string(),
                false,
            ))),
        };
        args.push(ast::FunctionArg::Unnamed(value));
    }
    let mut out = f.clone();
    if let ast::FunctionArguments::List(l) = &mut out.args {
        l.args = args;
    }
    Ok(Some(out))
}
