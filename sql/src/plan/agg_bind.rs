//! Binding of the aggregates whose arguments are not plain values: the
//! ordered-set aggregates (`percentile_cont(0.5) WITHIN GROUP (ORDER BY x)`,
//! percentile_disc, mode) and the two-variable float8 statistics (corr,
//! covar_*, regr_*).
//!
//! An ordered-set call becomes an `AggCall` whose `order_by` is the WITHIN
//! GROUP key and whose `args` are `[fraction, value]` (`[value]` for mode);
//! the executor collects the rows and `exec::agg_stats` picks the answer.
//! The fraction is a float8 (or float8[] for the several-percentiles form);
//! percentile_cont interpolates, so its value is float8 or interval, while
//! percentile_disc and mode return the sorted type itself.

use sqlparser::ast;

use super::bind::Binder;
use super::func::{agg_func, call_args, no_function};
use super::scope::Scope;
use super::{AggCall, AggFunc, SortKey};
use crate::error::{Error, Result};
use crate::exec::agg_stats::is_ordered_set;
use crate::expr::Expr;
use crate::types::DataType;
use crate::SqlState;

impl Binder<'_> {
    /// Binds `name(direct args) WITHIN GROUP (ORDER BY key)`, or refuses
    /// the mismatches (WITHIN GROUP on a plain aggregate or missing on an
    /// ordered-set one) with PostgreSQL's SQLSTATE.
    pub(crate) fn ordered_set_call(
        &mut self,
        name: &str,
        f: &ast::Function,
        input: &Scope,
    ) -> Result<AggCall> {
        let (args, _, distinct, _) = call_args(f)?;
        let func = agg_func(name, args.len());
        let Some(func) = func
            .filter(is_ordered_set)
            .filter(|_| !f.within_group.is_empty())
        else {
            // PostgreSQL looks the call up by all its arguments, direct and
            // aggregated: a WITHIN GROUP on a plain aggregate, or a missing
            // one where the arguments do not fit an ordered-set signature,
            // is "no such function"; arguments that do fit one are 42809.
            let mut types = Vec::new();
            for a in args
                .iter()
                .copied()
                .chain(f.within_group.iter().map(|k| &k.expr))
            {
                types.push(self.expr(a, input)?.1);
            }
            let fits = f.within_group.is_empty()
                && agg_func(name, args.len().saturating_sub(1)).is_some_and(|f| is_ordered_set(&f));
            if fits {
                return Err(Error::new(
                    SqlState::WRONG_OBJECT_TYPE,
                    format!("WITHIN GROUP is required for ordered-set aggregate {name}"),
                ));
            }
            return Err(no_function(name, &types));
        };
        if distinct {
            return Err(Error::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "DISTINCT is not supported for ordered-set aggregates",
            ));
        }
        let [key] = f.within_group.as_slice() else {
            return Err(no_function(name, &[]));
        };
        let (value, value_type) = self.expr(&key.expr, input)?;
        let mut bound = Vec::new();
        let mut fraction_type = None;
        if let Some(a) = args.first() {
            let (e, t) = self.expr(a, input)?;
            let target = match t {
                DataType::Array(_) => DataType::Array(Box::new(DataType::Float8)),
                _ => DataType::Float8,
            };
            bound.push(self.coerce(e, &t, &target)?);
            fraction_type = Some(target);
        }
        let elem = match (&func, &value_type) {
            (AggFunc::PercentileCont, DataType::Interval) => DataType::Interval,
            (
                AggFunc::PercentileCont,
                DataType::Int2
                | DataType::Int4
                | DataType::Int8
                | DataType::Numeric(_)
                | DataType::Float4
                | DataType::Float8
                | DataType::Unknown,
            ) => DataType::Float8,
            (AggFunc::PercentileCont, other) => {
                let mut types: Vec<DataType> = fraction_type.iter().cloned().collect();
                types.push(other.clone());
                return Err(no_function(name, &types));
            }
            (_, DataType::Unknown) => DataType::Text,
            (_, other) => other.clone(),
        };
        let value: Expr = self.coerce(value, &value_type, &elem)?;
        bound.push(value.clone());
        let result_type = match fraction_type {
            Some(DataType::Array(_)) => DataType::Array(Box::new(elem.clone())),
            _ => elem.clone(),
        };
        let filter = f
            .filter
            .as_ref()
            .map(|w| self.predicate(w, input, "FILTER"))
            .transpose()?;
        let (desc, nulls_first) = super::names::sort_options(&key.options)?;
        Ok(AggCall {
            func,
            args: bound,
            distinct: false,
            filter,
            order_by: vec![SortKey {
                expr: value,
                desc,
                nulls_first,
            }],
            result_type,
            arg_type: elem,
        })
    }
}
