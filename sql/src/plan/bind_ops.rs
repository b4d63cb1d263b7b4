//! Binding of names, literals, operators and the special SQL forms
//! (BETWEEN, LIKE, CASE, CAST, subqueries, ...). See `bind` for the overview.

use sqlparser::ast;

use super::bind::{ident, operator_error, Binder, Bound};
use super::scope::Scope;
use crate::error::{Error, Result};
use crate::expr::Expr;
use crate::types::ops::{self, BinaryOp, UnaryOp};
use crate::types::{cast, text, DataType, Value};
use crate::SqlState;

impl<'a> Binder<'a> {
    /// Resolves a column name in the current scope, then in outer scopes.
    pub(crate) fn column(
        &mut self,
        table: Option<&str>,
        name: &str,
        scope: &Scope,
    ) -> Result<Bound> {
        if let Some(i) = scope.resolve(table, name)? {
            return Ok((Expr::Column(i), scope.columns[i].data_type.clone()));
        }
        for (depth, outer) in self.outer.iter().rev().enumerate() {
            if let Some(i) = outer.resolve(table, name)? {
                return Ok((
                    Expr::Outer(depth + 1, i),
                    outer.columns[i].data_type.clone(),
                ));
            }
        }
        match table {
            Some(t) if !scope.has_table(t) && !self.outer.iter().any(|s| s.has_table(t)) => {
                Err(Error::new(
                    SqlState::UNDEFINED_TABLE,
                    format!("missing FROM-clause entry for table \"{t}\""),
                ))
            }
            Some(t) => Err(Error::new(
                SqlState::UNDEFINED_COLUMN,
                format!("column {t}.{name} does not exist"),
            )),
            None => match self.whole_row(name, scope) {
                Some(bound) => Ok(bound),
                None => Err(Error::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!("column \"{name}\" does not exist"),
                )),
            },
        }
    }

    /// Binds a literal.
    pub(crate) fn literal(&mut self, v: &ast::Value) -> Result<Bound> {
        use ast::Value as V;
        Ok(match v {
            V::Number(n, _) => number_literal(n)?,
            V::SingleQuotedString(s)
            | V::EscapedStringLiteral(s)
            | V::UnicodeStringLiteral(s)
            | V::NationalStringLiteral(s) => {
                (Expr::Literal(Value::Text(s.clone())), DataType::Unknown)
            }
            V::DollarQuotedString(s) => (
                Expr::Literal(Value::Text(s.value.clone())),
                DataType::Unknown,
            ),
            V::HexStringLiteral(s) => (Expr::Literal(Value::Text(s.clone())), DataType::Unknown),
            V::SingleQuotedByteStringLiteral(s) => {
                (Expr::Literal(Value::Text(s.clone())), DataType::Unknown)
            }
            V::Boolean(b) => (Expr::Literal(Value::Bool(*b)), DataType::Bool),
            V::Null => (Expr::Literal(Value::Null), DataType::Unknown),
            V::Placeholder(p) => self.param(p)?,
            other => return Err(Error::unsupported(format!("literal {other}"))),
        })
    }

    fn param(&mut self, p: &str) -> Result<Bound> {
        let n: usize = p
            .strip_prefix('$')
            .and_then(|d| d.parse().ok())
            .filter(|n| *n >= 1 && *n <= 65535)
            .ok_or_else(|| Error::syntax(format!("syntax error at or near \"{p}\"")))?;
        if self.params.len() < n {
            self.params.resize(n, None);
        }
        let ty = self.params[n - 1].clone().unwrap_or(DataType::Unknown);
        Ok((Expr::Param(n - 1), ty))
    }

    /// Gives an unknown-typed literal or parameter the type `target`.
    pub(crate) fn coerce_unknown(
        &mut self,
        e: Expr,
        ty: &DataType,
        target: &DataType,
    ) -> Result<Expr> {
        if *ty != DataType::Unknown || *target == DataType::Unknown {
            return Ok(e);
        }
        Ok(match e {
            Expr::Literal(Value::Text(s)) => Expr::Literal(text::parse(&s, target)?),
            Expr::Param(i) => {
                if let Some(slot) = self.params.get_mut(i) {
                    if slot.is_none() {
                        *slot = Some(target.clone());
                    }
                }
                Expr::Param(i)
            }
            other => other,
        })
    }

    /// Converts `e` of type `ty` to `target` for comparison or unification
    /// (unknowns are resolved; known types get an implicit cast).
    pub(crate) fn coerce(&mut self, e: Expr, ty: &DataType, target: &DataType) -> Result<Expr> {
        if ty == target || *target == DataType::Unknown {
            return Ok(e);
        }
        if *ty == DataType::Unknown {
            return self.coerce_unknown(e, ty, target);
        }
        match (&e, target) {
            (Expr::Literal(v), _) => Ok(Expr::Literal(cast::cast(v.clone(), target)?)),
            _ => Ok(Expr::Cast(Box::new(e), target.clone())),
        }
    }

    /// Binds two operands of a comparison, resolving unknowns against each other.
    pub(crate) fn comparable_pair(
        &mut self,
        a: &ast::Expr,
        b: &ast::Expr,
        scope: &Scope,
        grouped: bool,
    ) -> Result<(Expr, Expr, DataType)> {
        let (l, lt) = self.child(a, scope, grouped)?;
        let (r, rt) = self.child(b, scope, grouped)?;
        let common = cast::common_type(&lt, &rt).ok_or_else(|| operator_error("=", &lt, &rt))?;
        let common = if common == DataType::Unknown {
            DataType::Text
        } else {
            common
        };
        let l = self.coerce_unknown(l, &lt, &common)?;
        let r = self.coerce_unknown(r, &rt, &common)?;
        Ok((l, r, common))
    }

    pub(crate) fn is_bool(
        &mut self,
        x: &ast::Expr,
        want: Option<bool>,
        negated: bool,
        scope: &Scope,
        grouped: bool,
    ) -> Result<Bound> {
        let (e, t) = self.child(x, scope, grouped)?;
        let e = self.coerce_unknown(e, &t, &DataType::Bool)?;
        let test = Expr::IsBool(Box::new(e), want);
        Ok((
            if negated {
                Expr::Not(Box::new(test))
            } else {
                test
            },
            DataType::Bool,
        ))
    }

    /// Binds `left op right`.
    pub(crate) fn binary(
        &mut self,
        left: &ast::Expr,
        op: &ast::BinaryOperator,
        right: &ast::Expr,
        scope: &Scope,
        grouped: bool,
    ) -> Result<Bound> {
        use ast::BinaryOperator as B;
        let bop = match op {
            B::Overlaps => {
                let e = super::overlaps::rewrite(left, right)?;
                return self.child(&e, scope, grouped);
            }
            B::And | B::Or => {
                let (l, lt) = self.child(left, scope, grouped)?;
                let (r, rt) = self.child(right, scope, grouped)?;
                let l = self.bool_operand(l, &lt, if *op == B::And { "AND" } else { "OR" })?;
                let r = self.bool_operand(r, &rt, if *op == B::And { "AND" } else { "OR" })?;
                let e = if *op == B::And {
                    Expr::And(Box::new(l), Box::new(r))
                } else {
                    Expr::Or(Box::new(l), Box::new(r))
                };
                return Ok((e, DataType::Bool));
            }
            B::PGLikeMatch | B::PGILikeMatch | B::PGNotLikeMatch | B::PGNotILikeMatch => {
                let ci = matches!(op, B::PGILikeMatch | B::PGNotILikeMatch);
                let negated = matches!(op, B::PGNotLikeMatch | B::PGNotILikeMatch);
                return self.like(left, right, None, ci, negated, scope, grouped);
            }
            B::Plus => BinaryOp::Add,
            B::Minus => BinaryOp::Sub,
            B::Multiply => BinaryOp::Mul,
            B::Divide => BinaryOp::Div,
            B::Modulo => BinaryOp::Mod,
            B::PGExp => BinaryOp::Pow,
            B::StringConcat => BinaryOp::Concat,
            B::Eq => BinaryOp::Eq,
            B::NotEq => BinaryOp::NotEq,
            B::Lt => BinaryOp::Lt,
            B::LtEq => BinaryOp::LtEq,
            B::Gt => BinaryOp::Gt,
            B::GtEq => BinaryOp::GtEq,
            B::BitwiseAnd => BinaryOp::BitAnd,
            B::BitwiseOr => BinaryOp::BitOr,
            B::PGBitwiseXor => BinaryOp::BitXor,
            B::PGBitwiseShiftLeft => BinaryOp::ShiftLeft,
            B::PGBitwiseShiftRight => BinaryOp::ShiftRight,
            B::Arrow => BinaryOp::JsonGet,
            B::LongArrow => BinaryOp::JsonGetText,
            B::HashArrow => BinaryOp::JsonPath,
            B::HashLongArrow => BinaryOp::JsonPathText,
            B::AtArrow => BinaryOp::Contains,
            B::ArrowAt => BinaryOp::ContainedBy,
            B::Question => BinaryOp::JsonHasKey,
            B::PGOverlap => BinaryOp::Overlaps,
            B::PGRegexMatch => BinaryOp::RegexMatch,
            B::PGRegexIMatch => BinaryOp::RegexIMatch,
            B::PGRegexNotMatch => BinaryOp::RegexNotMatch,
            B::PGRegexNotIMatch => BinaryOp::RegexNotIMatch,
            B::PGCustomBinaryOperator(parts) => {
                return self.custom_operator(parts, left, right, scope, grouped)
            }
            other => {
                return Err(Error::unsupported(format!(
                    "operator {other} is not supported"
                )))
            }
        };
        if let (Some(l), Some(r)) = (row_items(left), row_items(right)) {
            return self.row_comparison(bop, &l, &r, scope, grouped);
        }
        self.binary_op(bop, left, right, scope, grouped)
    }

    /// `(a, b) op (c, d)`: equality pairwise, ordering lexicographic.
    fn row_comparison(
        &mut self,
        op: BinaryOp,
        l: &[ast::Expr],
        r: &[ast::Expr],
        scope: &Scope,
        grouped: bool,
    ) -> Result<Bound> {
        if l.len() != r.len() {
            return Err(Error::syntax(
                "unequal number of entries in row expressions",
            ));
        }
        let mut pairs = Vec::new();
        for (a, b) in l.iter().zip(r) {
            let (x, xt) = self.child(a, scope, grouped)?;
            let (y, yt) = self.child(b, scope, grouped)?;
            pairs.push((x, xt, y, yt));
        }
        let and = |a: Expr, b: Expr| Expr::And(Box::new(a), Box::new(b));
        let or = |a: Expr, b: Expr| Expr::Or(Box::new(a), Box::new(b));
        let mut result: Option<Expr> = None;
        match op {
            BinaryOp::Eq | BinaryOp::NotEq => {
                for (x, xt, y, yt) in pairs {
                    let (c, _) = self.apply_binary(op, x, xt, y, yt)?;
                    result = Some(match result {
                        None => c,
                        Some(acc) if op == BinaryOp::Eq => and(acc, c),
                        Some(acc) => or(acc, c),
                    });
                }
            }
            BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq => {
                // Built from the last column backwards:
                // a1 < b1 OR (a1 = b1 AND (a2 < b2 OR ...)).
                let strict = match op {
                    BinaryOp::LtEq => BinaryOp::Lt,
                    BinaryOp::GtEq => BinaryOp::Gt,
                    other => other,
                };
                for (i, (x, xt, y, yt)) in pairs.into_iter().enumerate().rev() {
                    let last = result.is_none() && i + 1 == l.len();
                    let cmp_op = if last { op } else { strict };
                    let (cmp, _) =
                        self.apply_binary(cmp_op, x.clone(), xt.clone(), y.clone(), yt.clone())?;
                    result = Some(match result {
                        None => cmp,
                        Some(rest) => {
                            let (eq, _) = self.apply_binary(BinaryOp::Eq, x, xt, y, yt)?;
                            or(cmp, and(eq, rest))
                        }
                    });
                }
            }
            _ => return Err(Error::unsupported("this operator on row values")),
        }
        Ok((
            result.unwrap_or(Expr::Literal(crate::types::Value::Bool(true))),
            DataType::Bool,
        ))
    }

    fn custom_operator(
        &mut self,
        parts: &[String],
        left: &ast::Expr,
        right: &ast::Expr,
        scope: &Scope,
        grouped: bool,
    ) -> Result<Bound> {
        // OPERATOR(pg_catalog.~) and friends, as psql writes them.
        let op = parts.last().map(String::as_str).unwrap_or("");
        let bop = match op {
            "~" => BinaryOp::RegexMatch,
            "~*" => BinaryOp::RegexIMatch,
            "!~" => BinaryOp::RegexNotMatch,
            "!~*" => BinaryOp::RegexNotIMatch,
            "=" => BinaryOp::Eq,
            "<>" | "!=" => BinaryOp::NotEq,
            "<" => BinaryOp::Lt,
            "<=" => BinaryOp::LtEq,
            ">" => BinaryOp::Gt,
            ">=" => BinaryOp::GtEq,
            "+" => BinaryOp::Add,
            "-" => BinaryOp::Sub,
            "||" => BinaryOp::Concat,
            "~~" => return self.like(left, right, None, false, false, scope, grouped),
            "~~*" => return self.like(left, right, None, true, false, scope, grouped),
            "!~~" => return self.like(left, right, None, false, true, scope, grouped),
            _ => {
                return Err(Error::new(
                    SqlState::UNDEFINED_FUNCTION,
                    format!("operator does not exist: {op}"),
                ))
            }
        };
        self.binary_op(bop, left, right, scope, grouped)
    }

    fn bool_operand(&mut self, e: Expr, ty: &DataType, what: &str) -> Result<Expr> {
        match ty {
            DataType::Bool => Ok(e),
            DataType::Unknown => self.coerce_unknown(e, ty, &DataType::Bool),
            other => Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "argument of {what} must be type boolean, not type {}",
                    crate::types::oid::type_name(other)
                ),
            )),
        }
    }

    /// Binds a binary operator with PostgreSQL's unknown-type resolution.
    pub(crate) fn binary_op(
        &mut self,
        op: BinaryOp,
        left: &ast::Expr,
        right: &ast::Expr,
        scope: &Scope,
        grouped: bool,
    ) -> Result<Bound> {
        let (l, lt) = self.child(left, scope, grouped)?;
        let (r, rt) = self.child(right, scope, grouped)?;
        self.apply_binary(op, l, lt, r, rt)
    }

    /// Types and builds `l op r` from bound operands.
    pub(crate) fn apply_binary(
        &mut self,
        op: BinaryOp,
        l: Expr,
        lt: DataType,
        r: Expr,
        rt: DataType,
    ) -> Result<Bound> {
        let (l, lt, r, rt) = match (&lt, &rt) {
            (DataType::Unknown, DataType::Unknown) => {
                let text = DataType::Text;
                (
                    self.coerce_unknown(l, &lt, &text)?,
                    text.clone(),
                    self.coerce_unknown(r, &rt, &text)?,
                    text,
                )
            }
            (DataType::Unknown, known) => {
                let target = unknown_target(op, known, true);
                (self.coerce_unknown(l, &lt, &target)?, target, r, rt.clone())
            }
            (known, DataType::Unknown) => {
                let target = unknown_target(op, known, false);
                let r = self.coerce_unknown(r, &rt, &target)?;
                (l, lt.clone(), r, target)
            }
            _ => (l, lt, r, rt),
        };
        // char(n) compares and concatenates without its padding.
        let (l, lt) = strip_bpchar(l, lt);
        let (r, rt) = strip_bpchar(r, rt);
        let ty = ops::binary_op_type(op, &lt, &rt)?;
        Ok((Expr::Binary(op, Box::new(l), Box::new(r)), ty))
    }

    pub(crate) fn unary(
        &mut self,
        op: &ast::UnaryOperator,
        expr: &ast::Expr,
        scope: &Scope,
        grouped: bool,
    ) -> Result<Bound> {
        use ast::UnaryOperator as U;
        // PostgreSQL binds unary minus tighter than `^`: `-2 ^ 2` is 4.
        if let (
            U::Minus,
            ast::Expr::BinaryOp {
                left,
                op: ast::BinaryOperator::PGExp,
                right,
            },
        ) = (op, expr)
        {
            let neg = ast::Expr::UnaryOp {
                op: U::Minus,
                expr: left.clone(),
            };
            let rewritten = ast::Expr::BinaryOp {
                left: Box::new(neg),
                op: ast::BinaryOperator::PGExp,
                right: right.clone(),
            };
            return self.child(&rewritten, scope, grouped);
        }
        // Negative numeric literals fold, so -2147483648 is an integer.
        if let (U::Minus, ast::Expr::Value(v)) = (op, expr) {
            if let ast::Value::Number(n, _) = &v.value {
                return number_literal(&format!("-{n}"));
            }
        }
        let (e, t) = self.child(expr, scope, grouped)?;
        let uop = match op {
            U::Not => {
                let e = self.bool_operand(e, &t, "NOT")?;
                return Ok((Expr::Not(Box::new(e)), DataType::Bool));
            }
            U::Minus => UnaryOp::Neg,
            U::Plus => UnaryOp::Plus,
            U::BitwiseNot => UnaryOp::BitNot,
            U::PGSquareRoot => UnaryOp::Sqrt,
            U::PGAbs => UnaryOp::Abs,
            other => return Err(Error::unsupported(format!("operator {other}"))),
        };
        let target = if t == DataType::Unknown {
            DataType::Float8
        } else {
            t.clone()
        };
        let e = self.coerce_unknown(e, &t, &target)?;
        let ty = ops::unary_op_type(uop, &target)?;
        Ok((Expr::Unary(uop, Box::new(e)), ty))
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn like(
        &mut self,
        expr: &ast::Expr,
        pattern: &ast::Expr,
        escape: Option<&ast::Expr>,
        ci: bool,
        negated: bool,
        scope: &Scope,
        grouped: bool,
    ) -> Result<Bound> {
        let (e, et) = self.child(expr, scope, grouped)?;
        let (p, pt) = self.child(pattern, scope, grouped)?;
        let e = self.coerce_unknown(e, &et, &DataType::Text)?;
        let p = self.coerce_unknown(p, &pt, &DataType::Text)?;
        for t in [&et, &pt] {
            if !is_texty(t) {
                return Err(operator_error(if ci { "~~*" } else { "~~" }, &et, &pt));
            }
        }
        let escape = match escape {
            Some(x) => {
                let (x, xt) = self.child(x, scope, grouped)?;
                Some(Box::new(self.coerce_unknown(x, &xt, &DataType::Text)?))
            }
            None => None,
        };
        Ok((
            Expr::Like {
                expr: Box::new(e),
                pattern: Box::new(p),
                escape,
                case_insensitive: ci,
                negated,
            },
            DataType::Bool,
        ))
    }
}

/// Whether a type behaves as text for LIKE and friends.
pub fn is_texty(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Text
            | DataType::Varchar(_)
            | DataType::Char(_)
            | DataType::Name
            | DataType::Unknown
    )
}

/// The type an unknown operand takes next to a known one.
fn unknown_target(op: BinaryOp, known: &DataType, _unknown_is_left: bool) -> DataType {
    use BinaryOp::*;
    match op {
        JsonGet | JsonGetText => {
            // '->' takes a text key or an integer index; a string literal is a key.
            DataType::Text
        }
        JsonPath | JsonPathText => DataType::Array(Box::new(DataType::Text)),
        JsonHasKey => DataType::Text,
        RegexMatch | RegexIMatch | RegexNotMatch | RegexNotIMatch => DataType::Text,
        Concat if !matches!(known, DataType::Array(_) | DataType::Jsonb) => DataType::Text,
        Add | Sub
            if matches!(
                known,
                DataType::Date | DataType::Timestamp | DataType::TimestampTz
            ) =>
        {
            if op == Sub {
                known.clone()
            } else {
                DataType::Interval
            }
        }
        _ => known.clone(),
    }
}

/// A numeric literal: integer if it fits, else bigint, else numeric.
pub fn number_literal(n: &str) -> Result<Bound> {
    if let Ok(v) = n.parse::<i32>() {
        return Ok((Expr::Literal(Value::Int4(v)), DataType::Int4));
    }
    if let Ok(v) = n.parse::<i64>() {
        return Ok((Expr::Literal(Value::Int8(v)), DataType::Int8));
    }
    let v = text::parse(n, &DataType::Numeric(None))?;
    Ok((Expr::Literal(v), DataType::Numeric(None)))
}

/// The identifier text of a column alias.
pub fn alias_name(id: &ast::Ident) -> String {
    ident(id)
}

/// A `char(n)` operand as text without trailing blanks, which is how
/// PostgreSQL's bpchar operators and text functions see it.
pub fn strip_bpchar(e: Expr, t: DataType) -> (Expr, DataType) {
    match t {
        DataType::Char(_) => (Expr::Function("rtrim".into(), vec![e]), DataType::Text),
        other => (e, other),
    }
}

/// The common type of several expressions (CASE branches, COALESCE
/// arguments, IN lists, VALUES columns): unknown literals adopt the others'
/// type; all-unknown resolves to text, as in PostgreSQL.
pub fn unify<'t>(types: impl IntoIterator<Item = &'t DataType>, what: &str) -> Result<DataType> {
    let mut acc: Option<DataType> = None;
    for t in types {
        if matches!(t, DataType::Unknown | DataType::Void) {
            continue;
        }
        acc = Some(match acc {
            None => t.clone(),
            Some(a) => crate::types::cast::common_type(&a, t).ok_or_else(|| {
                Error::new(
                    SqlState::DATATYPE_MISMATCH,
                    format!(
                        "{what} types {} and {} cannot be matched",
                        crate::types::oid::type_name(&a),
                        crate::types::oid::type_name(t)
                    ),
                )
            })?,
        });
    }
    Ok(acc.unwrap_or(DataType::Text))
}

/// The fields of a row constructor: `(a, b)` or `ROW(a, b)`.
pub fn row_items(e: &ast::Expr) -> Option<Vec<ast::Expr>> {
    match e {
        ast::Expr::Tuple(items) => Some(items.clone()),
        ast::Expr::Nested(inner) => row_items(inner),
        ast::Expr::Function(f) if super::func::function_name(&f.name) == "row" => match &f.args {
            ast::FunctionArguments::List(list) => list
                .args
                .iter()
                .map(|a| match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x)) => Some(x.clone()),
                    _ => None,
                })
                .collect(),
            _ => Some(vec![]),
        },
        _ => None,
    }
}
