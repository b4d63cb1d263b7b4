//! Two-variable statistics (corr, covar_*, regr_*) and the ordered-set
//! aggregates (percentile_cont, percentile_disc, mode).
//!
//! The regression aggregates follow PostgreSQL's `float8_regr_accum`: the
//! state is N, Σx, Σy and the Youngs-Cramer running sums of squared (and
//! cross) deviations Sxx, Syy, Sxy, updated per row where both inputs are
//! non-NULL. Keeping the same recurrence (not the textbook N·Σxy − ΣxΣy)
//! makes results equal PostgreSQL's to the last digit. Arguments are
//! `(Y, X)`, dependent variable first, as in SQL.
//!
//! The ordered-set aggregates collect their rows in the generic `Collect`
//! state of `agg.rs` (sort key = the WITHIN GROUP expression, arguments =
//! `[fraction, value]` or `[value]` for mode), and `finish_ordered` sorts
//! them by the WITHIN GROUP order and picks the answer. Rows whose sorted
//! value is NULL are ignored, as PostgreSQL does.

use crate::error::{Error, Result};
use crate::expr::Row;
use crate::plan::{AggCall, AggFunc};
use crate::types::ops::{binary_op, BinaryOp};
use crate::types::{cast, compare, DataType, Value};
use crate::SqlState;

/// PostgreSQL's float8 regression transition state.
#[derive(Clone, Default)]
pub(crate) struct Regr {
    n: f64,
    sx: f64,
    sy: f64,
    sxx: f64,
    syy: f64,
    sxy: f64,
}

impl Regr {
    /// Adds one `(y, x)` pair; NULLs are skipped by the caller.
    pub(crate) fn add(&mut self, y: &Value, x: &Value) -> Result<()> {
        let (y, x) = (float(y)?, float(x)?);
        let old_n = self.n;
        self.n += 1.0;
        self.sx += x;
        self.sy += y;
        if old_n > 0.0 {
            let tmp_x = x * self.n - self.sx;
            let tmp_y = y * self.n - self.sy;
            let scale = 1.0 / (self.n * old_n);
            self.sxx += tmp_x * tmp_x * scale;
            self.syy += tmp_y * tmp_y * scale;
            self.sxy += tmp_x * tmp_y * scale;
        }
        Ok(())
    }

    /// The final value of `func` (PostgreSQL's float8_regr_* / float8_corr
    /// / float8_covar_* final functions).
    pub(crate) fn finish(&self, func: &AggFunc) -> Value {
        let Regr {
            n,
            sx,
            sy,
            sxx,
            syy,
            sxy,
        } = self.clone();
        let f = |v: f64| Value::Float8(v);
        if let AggFunc::RegrCount = func {
            return Value::Int8(n as i64);
        }
        if n < 1.0 {
            return Value::Null;
        }
        match func {
            AggFunc::RegrAvgX => f(sx / n),
            AggFunc::RegrAvgY => f(sy / n),
            AggFunc::RegrSxx => f(sxx),
            AggFunc::RegrSyy => f(syy),
            AggFunc::RegrSxy => f(sxy),
            AggFunc::CovarPop => f(sxy / n),
            AggFunc::CovarSamp if n < 2.0 => Value::Null,
            AggFunc::CovarSamp => f(sxy / (n - 1.0)),
            AggFunc::Corr if sxx == 0.0 || syy == 0.0 => Value::Null,
            AggFunc::Corr => f(sxy / (sxx * syy).sqrt()),
            AggFunc::RegrR2 if sxx == 0.0 => Value::Null,
            AggFunc::RegrR2 if syy == 0.0 => f(1.0),
            AggFunc::RegrR2 => f((sxy * sxy) / (sxx * syy)),
            AggFunc::RegrSlope if sxx == 0.0 => Value::Null,
            AggFunc::RegrSlope => f(sxy / sxx),
            AggFunc::RegrIntercept if sxx == 0.0 => Value::Null,
            AggFunc::RegrIntercept => f((sy - sx * sxy / sxx) / n),
            _ => Value::Null,
        }
    }
}

fn float(v: &Value) -> Result<f64> {
    match cast::cast(v.clone(), &DataType::Float8)? {
        Value::Float8(f) => Ok(f),
        _ => Err(Error::new(
            SqlState::DATATYPE_MISMATCH,
            "regression aggregates take double precision arguments",
        )),
    }
}

/// The two-argument statistics aggregates by name.
pub(crate) fn regr_func(name: &str) -> Option<AggFunc> {
    Some(match name {
        "corr" => AggFunc::Corr,
        "covar_pop" => AggFunc::CovarPop,
        "covar_samp" => AggFunc::CovarSamp,
        "regr_avgx" => AggFunc::RegrAvgX,
        "regr_avgy" => AggFunc::RegrAvgY,
        "regr_count" => AggFunc::RegrCount,
        "regr_intercept" => AggFunc::RegrIntercept,
        "regr_r2" => AggFunc::RegrR2,
        "regr_slope" => AggFunc::RegrSlope,
        "regr_sxx" => AggFunc::RegrSxx,
        "regr_syy" => AggFunc::RegrSyy,
        "regr_sxy" => AggFunc::RegrSxy,
        _ => return None,
    })
}

/// Whether `func` is one of the regression aggregates.
pub(crate) fn is_regr(func: &AggFunc) -> bool {
    matches!(
        func,
        AggFunc::Corr
            | AggFunc::CovarPop
            | AggFunc::CovarSamp
            | AggFunc::RegrAvgX
            | AggFunc::RegrAvgY
            | AggFunc::RegrCount
            | AggFunc::RegrIntercept
            | AggFunc::RegrR2
            | AggFunc::RegrSlope
            | AggFunc::RegrSxx
            | AggFunc::RegrSyy
            | AggFunc::RegrSxy
    )
}

/// Whether `func` is an ordered-set aggregate (WITHIN GROUP).
pub(crate) fn is_ordered_set(func: &AggFunc) -> bool {
    matches!(
        func,
        AggFunc::PercentileCont | AggFunc::PercentileDisc | AggFunc::Mode
    )
}

/// The result of an ordered-set aggregate over its collected rows, already
/// sorted by the WITHIN GROUP order. Each item is (sort keys, arguments).
pub(crate) fn finish_ordered(call: &AggCall, items: Vec<(Row, Vec<Value>)>) -> Result<Value> {
    // The direct argument (the fraction) is the same in every row; NULL
    // rows were dropped before collection, so take it from the first row.
    let fraction = items.first().and_then(|(_, a)| a.first().cloned());
    let values: Vec<Value> = items
        .into_iter()
        .filter_map(|(mut keys, _)| match keys.is_empty() {
            true => None,
            false => Some(keys.swap_remove(0)),
        })
        .filter(|v| !v.is_null())
        .collect();
    if values.is_empty() {
        return Ok(Value::Null);
    }
    match call.func {
        AggFunc::Mode => mode(values),
        AggFunc::PercentileCont | AggFunc::PercentileDisc => {
            let cont = call.func == AggFunc::PercentileCont;
            match fraction {
                None | Some(Value::Null) => Ok(Value::Null),
                Some(Value::Array(list)) => {
                    let mut out = Vec::with_capacity(list.len());
                    for p in &list {
                        out.push(match p {
                            Value::Null => Value::Null,
                            p => percentile(cont, &values, p, &call.result_type)?,
                        });
                    }
                    Ok(Value::Array(out))
                }
                Some(p) => percentile(cont, &values, &p, &call.result_type),
            }
        }
        _ => Ok(Value::Null),
    }
}

/// The most frequent value; among equally frequent ones, the first in the
/// sort order (PostgreSQL replaces its answer only on a strictly larger
/// count).
fn mode(values: Vec<Value>) -> Result<Value> {
    let mut best: Option<(usize, usize)> = None;
    let mut start = 0;
    for i in 1..=values.len() {
        let run_ends = match (values.get(i), values.get(start)) {
            (Some(a), Some(b)) => compare::compare(a, b)?.is_ne(),
            _ => true,
        };
        if run_ends {
            let len = i - start;
            if best.is_none_or(|(_, l)| len > l) {
                best = Some((start, len));
            }
            start = i;
        }
    }
    Ok(best
        .and_then(|(i, _)| values.get(i).cloned())
        .unwrap_or(Value::Null))
}

fn percentile(cont: bool, values: &[Value], p: &Value, result: &DataType) -> Result<Value> {
    let p = float(p)?;
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!(
                "percentile value {} is not between 0 and 1",
                crate::types::text::format(&Value::Float8(p))
            ),
        ));
    }
    let n = values.len();
    let at = |i: usize| values.get(i).cloned().unwrap_or(Value::Null);
    if !cont {
        // PostgreSQL: the first row whose cumulative share reaches p.
        let row = ((p * n as f64).ceil() as usize).max(1);
        return Ok(at(row - 1));
    }
    let pos = p * (n as f64 - 1.0);
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let elem = match result {
        DataType::Array(e) => (**e).clone(),
        other => other.clone(),
    };
    let first = cast::cast(at(lo), &elem)?;
    if lo == hi {
        return Ok(first);
    }
    let second = cast::cast(at(hi), &elem)?;
    let frac = pos - lo as f64;
    match (&first, &second) {
        (Value::Float8(a), Value::Float8(b)) => Ok(Value::Float8(a + frac * (b - a))),
        _ => {
            // interval: first + (second - first) * frac, as PostgreSQL does.
            let diff = binary_op(BinaryOp::Sub, &second, &first)?;
            let step = binary_op(BinaryOp::Mul, &diff, &Value::Float8(frac))?;
            binary_op(BinaryOp::Add, &first, &step)
        }
    }
}
