//! Aggregation: hash GROUP BY with per-group aggregate states.
//!
//! Groups are keyed by the hash-key encoding of their GROUP BY values (so
//! NULLs form one group, as in SQL) and emitted in first-seen order. With no
//! GROUP BY, exactly one row comes out even for empty input (count = 0,
//! other aggregates NULL).

use std::collections::{HashMap, HashSet};

use rust_decimal::Decimal;

use super::{ExecCtx, RowIter};
use crate::encoding::keycode;
use crate::error::Result;
use crate::expr::{Expr, Row};
use crate::plan::{AggCall, AggFunc, Plan};
use crate::types::ops::{binary_op, BinaryOp};
use crate::types::{cast, compare, DataType, Value};

/// The running state of one aggregate in one group.
#[derive(Clone)]
enum State {
    Count(i64),
    /// Sum in the result type (or NULL before the first value).
    Sum(Value),
    Avg {
        sum: Value,
        count: i64,
    },
    Extreme(Value),
    Bool(Option<bool>),
    /// Collected (sort keys, values) for string_agg / array_agg / json_agg.
    Collect(Vec<(Row, Vec<Value>)>),
    /// n, sum, sum of squares for variance and stddev.
    Stats {
        n: i64,
        sum: f64,
        sumsq: f64,
        dsum: Decimal,
        dsumsq: Decimal,
        exact: bool,
    },
    Bits(Value),
    /// sum() of integers into numeric, and avg() of integers: an exact
    /// `i128` total (no `Decimal` work per row), turned into the numeric the
    /// generic states would have built when finished. `count` is the number
    /// of values added (sum: only whether it is 0 matters).
    IntTotal {
        total: i128,
        count: i64,
    },
    /// corr / covar_* / regr_*.
    Regr(super::agg_stats::Regr),
}

/// Whether `call` may use `State::IntTotal`: sum(integer) with a plain
/// numeric result, or avg(integer).
fn int_total(call: &AggCall) -> bool {
    let int_arg = matches!(
        call.arg_type,
        DataType::Int2 | DataType::Int4 | DataType::Int8
    );
    match call.func {
        AggFunc::Sum => int_arg && call.result_type == DataType::Numeric(None),
        AggFunc::Avg => int_arg && matches!(call.result_type, DataType::Numeric(_)),
        _ => false,
    }
}

/// An integer value as `i128` (`None` for anything else).
fn int_value(v: &Value) -> Option<i128> {
    match v {
        Value::Int2(x) => Some(i128::from(*x)),
        Value::Int4(x) => Some(i128::from(*x)),
        Value::Int8(x) => Some(i128::from(*x)),
        _ => None,
    }
}

/// An `i128` total as the numeric the Decimal sums would have produced.
fn total_numeric(total: i128) -> Result<Value> {
    Decimal::try_from_i128_with_scale(total, 0)
        .map(Value::Numeric)
        .map_err(|_| crate::types::numeric::overflow())
}

/// One aggregate's state; window frames reuse it (cloned to read a
/// running total without consuming it).
#[derive(Clone)]
pub(crate) struct Accumulator<'a> {
    call: &'a AggCall,
    state: State,
    seen: Option<HashSet<Vec<u8>>>,
}

impl<'a> Accumulator<'a> {
    pub(crate) fn new(call: &'a AggCall) -> Self {
        let state = match call.func {
            _ if int_total(call) && !call.distinct => State::IntTotal { total: 0, count: 0 },
            AggFunc::CountStar | AggFunc::Count => State::Count(0),
            AggFunc::Sum => State::Sum(Value::Null),
            AggFunc::Avg => State::Avg {
                sum: Value::Null,
                count: 0,
            },
            AggFunc::Min | AggFunc::Max => State::Extreme(Value::Null),
            AggFunc::BoolAnd | AggFunc::BoolOr => State::Bool(None),
            AggFunc::StringAgg
            | AggFunc::ArrayAgg
            | AggFunc::JsonAgg(_)
            | AggFunc::JsonObjectAgg(_) => State::Collect(Vec::new()),
            AggFunc::StddevSamp | AggFunc::StddevPop | AggFunc::VarSamp | AggFunc::VarPop => {
                State::Stats {
                    n: 0,
                    sum: 0.0,
                    sumsq: 0.0,
                    dsum: Decimal::ZERO,
                    dsumsq: Decimal::ZERO,
                    exact: !matches!(call.result_type, DataType::Float8),
                }
            }
            AggFunc::BitAnd | AggFunc::BitOr => State::Bits(Value::Null),
            AggFunc::PercentileCont | AggFunc::PercentileDisc | AggFunc::Mode => {
                State::Collect(Vec::new())
            }
            // A constant chosen per grouping set when the plan was built.
            AggFunc::Grouping => State::Extreme(match call.args.first() {
                Some(Expr::Literal(v)) => v.clone(),
                _ => Value::Null,
            }),
            _ => State::Regr(Default::default()),
        };
        Accumulator {
            call,
            state,
            seen: if call.distinct {
                Some(HashSet::new())
            } else {
                None
            },
        }
    }

    pub(crate) fn add(&mut self, row: &[Value], ctx: &ExecCtx) -> Result<()> {
        let call = self.call;
        if let Some(f) = &call.filter {
            if !f.eval_predicate(row, ctx)? {
                return Ok(());
            }
        }
        if let AggFunc::Grouping = call.func {
            return Ok(());
        }
        if let AggFunc::CountStar = call.func {
            if let State::Count(n) = &mut self.state {
                *n += 1;
            }
            return Ok(());
        }
        // The common case, one argument feeding a running state, evaluates
        // it alone; the argument list is built only where it is kept (the
        // collecting aggregates) or hashed (DISTINCT).
        let single = call.args.len() == 1
            && self.seen.is_none()
            && !matches!(self.state, State::Collect(_) | State::Regr(_));
        let (first, args) = match call.args.first() {
            Some(a) if single => (a.eval(row, ctx)?, Vec::new()),
            _ => {
                let args = call
                    .args
                    .iter()
                    .map(|a| a.eval(row, ctx))
                    .collect::<Result<Vec<_>>>()?;
                (args.first().cloned().unwrap_or(Value::Null), args)
            }
        };
        // Aggregates skip NULL inputs (json_agg and array_agg keep them).
        let keeps_null = matches!(
            call.func,
            AggFunc::ArrayAgg | AggFunc::JsonAgg(_) | AggFunc::JsonObjectAgg(_)
        );
        if first.is_null() && !keeps_null {
            return Ok(());
        }
        if let Some(seen) = &mut self.seen {
            let mut k = Vec::new();
            for a in &args {
                keycode::encode_value(&mut k, a)?;
            }
            if !seen.insert(k) {
                return Ok(());
            }
        }
        if let State::IntTotal { total, count } = &mut self.state {
            if let Some(x) = int_value(&first) {
                // i128 cannot overflow on i64 inputs in any feasible row count.
                *total += x;
                *count += 1;
                return Ok(());
            }
            // Not an integer after all: continue in the generic state.
            self.state = self.generic_state()?;
        }
        match &mut self.state {
            State::IntTotal { .. } => {}
            State::Count(n) => *n += 1,
            State::Sum(acc) => {
                let v = cast::cast(first, &call.result_type)?;
                *acc = if acc.is_null() {
                    v
                } else {
                    binary_op(BinaryOp::Add, acc, &v)?
                };
            }
            State::Avg { sum, count } => {
                let target = match call.result_type {
                    DataType::Float8 => DataType::Float8,
                    DataType::Interval => DataType::Interval,
                    _ => DataType::Numeric(None),
                };
                let v = cast::cast(first, &target)?;
                *sum = if sum.is_null() {
                    v
                } else {
                    binary_op(BinaryOp::Add, sum, &v)?
                };
                *count += 1;
            }
            State::Extreme(best) => {
                let v = cast::cast(first, &call.result_type)?;
                let replace = best.is_null() || {
                    let ord = compare::compare(&v, best)?;
                    if call.func == AggFunc::Max {
                        ord.is_gt()
                    } else {
                        ord.is_lt()
                    }
                };
                if replace {
                    *best = v;
                }
            }
            State::Bool(acc) => {
                let b = matches!(first, Value::Bool(true));
                *acc = Some(match (*acc, call.func == AggFunc::BoolAnd) {
                    (None, _) => b,
                    (Some(a), true) => a && b,
                    (Some(a), false) => a || b,
                });
            }
            State::Collect(items) => {
                let keys = call
                    .order_by
                    .iter()
                    .map(|k| k.expr.eval(row, ctx))
                    .collect::<Result<Vec<_>>>()?;
                items.push((keys, args));
            }
            State::Stats {
                n,
                sum,
                sumsq,
                dsum,
                dsumsq,
                exact,
            } => {
                *n += 1;
                if *exact {
                    if let Value::Numeric(d) = cast::cast(first, &DataType::Numeric(None))? {
                        *dsum += d;
                        *dsumsq += d * d;
                    }
                } else if let Value::Float8(f) = cast::cast(first, &DataType::Float8)? {
                    // Youngs-Cramer, as PostgreSQL's float8_accum: `sumsq`
                    // holds the sum of squared deviations, so results match
                    // PostgreSQL's to the last digit.
                    *sum += f;
                    let nf = *n as f64;
                    if *n > 1 {
                        let tmp = f * nf - *sum;
                        *sumsq += tmp * tmp / (nf * (nf - 1.0));
                    }
                }
            }
            State::Regr(r) => {
                // Rows where either variable is NULL do not count.
                if let Some(x) = args.get(1).filter(|x| !x.is_null()) {
                    r.add(&first, x)?;
                }
            }
            State::Bits(acc) => {
                let op = if call.func == AggFunc::BitAnd {
                    BinaryOp::BitAnd
                } else {
                    BinaryOp::BitOr
                };
                *acc = if acc.is_null() {
                    first
                } else {
                    binary_op(op, acc, &first)?
                };
            }
        }
        Ok(())
    }

    /// The generic (Decimal) state equal to an `IntTotal` one.
    fn generic_state(&self) -> Result<State> {
        let State::IntTotal { total, count } = self.state else {
            return Ok(self.state.clone());
        };
        let sum = if count == 0 {
            Value::Null
        } else {
            total_numeric(total)?
        };
        Ok(match self.call.func {
            AggFunc::Avg => State::Avg { sum, count },
            _ => State::Sum(sum),
        })
    }

    pub(crate) fn finish(self) -> Result<Value> {
        let call = self.call;
        let state = match self.state {
            State::IntTotal { .. } => self.generic_state()?,
            other => other,
        };
        Ok(match state {
            State::IntTotal { .. } => Value::Null,
            State::Count(n) => Value::Int8(n),
            State::Sum(v) | State::Extreme(v) | State::Bits(v) => v,
            State::Avg { sum, count } => {
                if count == 0 {
                    Value::Null
                } else {
                    match sum {
                        Value::Interval(_) => {
                            binary_op(BinaryOp::Div, &sum, &Value::Float8(count as f64))?
                        }
                        Value::Float8(_) => {
                            binary_op(BinaryOp::Div, &sum, &Value::Float8(count as f64))?
                        }
                        _ => binary_op(BinaryOp::Div, &sum, &Value::Numeric(Decimal::from(count)))?,
                    }
                }
            }
            State::Bool(b) => b.map(Value::Bool).unwrap_or(Value::Null),
            State::Collect(mut items) => {
                if !call.order_by.is_empty() {
                    let keys = call.order_by.clone();
                    items.sort_by(|(a, _), (b, _)| super::relational::compare_keys(a, b, &keys));
                }
                if super::agg_stats::is_ordered_set(&call.func) {
                    super::agg_stats::finish_ordered(call, items)?
                } else {
                    finish_collect(call, items)?
                }
            }
            State::Regr(r) => r.finish(&call.func),
            State::Stats {
                n,
                sumsq,
                dsum,
                dsumsq,
                exact,
                ..
            } => stats_result(&call.func, n, sumsq, dsum, dsumsq, exact)?,
        })
    }
}

fn finish_collect(call: &AggCall, items: Vec<(Row, Vec<Value>)>) -> Result<Value> {
    if items.is_empty() {
        return Ok(Value::Null);
    }
    Ok(match call.func {
        AggFunc::StringAgg => {
            let mut out = String::new();
            let mut first = true;
            for (_, args) in items {
                let (Some(v), delim) = (args.first(), args.get(1)) else {
                    continue;
                };
                if v.is_null() {
                    continue;
                }
                if !first {
                    if let Some(d) = delim {
                        if !d.is_null() {
                            out.push_str(&crate::types::text::format(d));
                        }
                    }
                }
                first = false;
                out.push_str(&crate::types::text::format(v));
            }
            if first {
                Value::Null
            } else {
                Value::Text(out)
            }
        }
        AggFunc::ArrayAgg => Value::Array(
            items
                .into_iter()
                .map(|(_, mut a)| a.swap_remove(0))
                .collect(),
        ),
        AggFunc::JsonAgg(false) => {
            // json_agg separates elements with ", " (unlike to_json(array)),
            // and records (whole-row arguments) also with a line break.
            let records = matches!(
                call.args.first(),
                Some(Expr::Function(f, _)) if f == crate::plan::whole_row::RECORD_JSON_FN
            );
            let mut parts = Vec::with_capacity(items.len());
            for (_, mut a) in items {
                match crate::functions::call("to_json", &[a.swap_remove(0)])? {
                    Value::Json(t) => parts.push(t),
                    Value::Null => parts.push("null".to_string()),
                    other => parts.push(crate::types::text::format(&other)),
                }
            }
            let separator = if records { ", \n " } else { ", " };
            Value::Json(format!("[{}]", parts.join(separator)))
        }
        AggFunc::JsonAgg(binary) => {
            let list: Vec<Value> = items
                .into_iter()
                .map(|(_, mut a)| a.swap_remove(0))
                .collect();
            let arr = crate::functions::call(
                if binary { "to_jsonb" } else { "to_json" },
                &[Value::Array(list)],
            );
            match arr {
                Ok(v) => v,
                Err(_) => Value::Null,
            }
        }
        AggFunc::JsonObjectAgg(binary) => {
            let mut args = Vec::new();
            for (_, a) in items {
                args.extend(a);
            }
            crate::functions::call(
                if binary {
                    "jsonb_build_object"
                } else {
                    "json_build_object"
                },
                &args,
            )?
        }
        _ => Value::Null,
    })
}

fn stats_result(
    func: &AggFunc,
    n: i64,

    sumsq: f64,
    dsum: Decimal,
    dsumsq: Decimal,
    exact: bool,
) -> Result<Value> {
    let sample = matches!(func, AggFunc::StddevSamp | AggFunc::VarSamp);
    let sqrt = matches!(func, AggFunc::StddevSamp | AggFunc::StddevPop);
    if n == 0 || (sample && n == 1) {
        return Ok(Value::Null);
    }
    let denom = if sample { n - 1 } else { n };
    if exact {
        let nd = Decimal::from(n);
        let var_num = nd * dsumsq - dsum * dsum;
        if var_num.is_zero() {
            // PostgreSQL's numeric division gives a zero of scale 0 here.
            return Ok(Value::Numeric(Decimal::ZERO));
        }
        let var = binary_op(
            BinaryOp::Div,
            &Value::Numeric(var_num),
            &Value::Numeric(nd * Decimal::from(denom)),
        )?;
        if sqrt {
            return crate::functions::call("sqrt", &[var]);
        }
        return Ok(var);
    }
    let var = sumsq / denom as f64;
    Ok(Value::Float8(if sqrt { var.sqrt() } else { var }))
}

/// Appends the hash key of one GROUP BY value. Integers of every width
/// are keyed as the numeric they equal, so `1::int4`, `1::int8` and `1.0`
/// fall in one group; `encode_int_as_numeric` writes those bytes without
/// building a `Decimal`.
fn encode_group_value(out: &mut Vec<u8>, v: &Value) -> Result<()> {
    match v {
        Value::Int2(i) => keycode::encode_int_as_numeric(out, i64::from(*i)),
        Value::Int4(i) => keycode::encode_int_as_numeric(out, i64::from(*i)),
        Value::Int8(i) => keycode::encode_int_as_numeric(out, *i),
        other => keycode::encode_value(out, other)?,
    }
    Ok(())
}

/// Opens an Aggregate node.
pub fn open_aggregate(
    input: &Plan,
    group_by: &[Expr],
    aggregates: &[AggCall],
    ctx: &ExecCtx,
) -> Result<RowIter> {
    // The input's rows are read only through these expressions.
    let reads = group_by.iter().chain(aggregates.iter().flat_map(|a| {
        a.args
            .iter()
            .chain(a.filter.iter())
            .chain(a.order_by.iter().map(|k| &k.expr))
    }));
    let mut rows = super::open_for(input, reads, ctx)?;
    let mut order: Vec<(Vec<Value>, Vec<Accumulator>)> = Vec::new();
    let mut index: HashMap<Vec<u8>, usize, foldhash::fast::RandomState> = HashMap::default();
    let mut counter = 0usize;
    // Reused per row: a row of an existing group allocates nothing here.
    let mut keys: Vec<Value> = Vec::with_capacity(group_by.len());
    let mut k: Vec<u8> = Vec::new();
    for row in &mut rows {
        let row = row?;
        counter += 1;
        if counter.is_multiple_of(4096) {
            ctx.check_cancel()?;
        }
        keys.clear();
        k.clear();
        for g in group_by {
            let v = g.eval(&row, ctx)?;
            encode_group_value(&mut k, &v)?;
            keys.push(v);
        }
        let slot = match index.get(k.as_slice()) {
            Some(i) => *i,
            None => {
                order.push((
                    keys.clone(),
                    aggregates.iter().map(Accumulator::new).collect(),
                ));
                index.insert(k.clone(), order.len() - 1);
                order.len() - 1
            }
        };
        if let Some((_, accs)) = order.get_mut(slot) {
            for acc in accs {
                acc.add(&row, ctx)?;
            }
        }
    }
    if order.is_empty() && group_by.is_empty() {
        order.push((vec![], aggregates.iter().map(Accumulator::new).collect()));
    }
    let mut out = Vec::with_capacity(order.len());
    for (keys, accs) in order {
        let mut row = keys;
        for acc in accs {
            row.push(acc.finish()?);
        }
        out.push(row);
    }
    Ok(Box::new(out.into_iter().map(Ok)))
}
