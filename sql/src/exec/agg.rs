//! Aggregation: hash GROUP BY with per-group aggregate states.
//!
//! Groups are keyed by the hash-key encoding of their GROUP BY values (so
//! NULLs form one group, as in SQL) and emitted in first-seen order. With no
//! GROUP BY, exactly one row comes out even for empty input (count = 0,
//! other aggregates NULL).

use std::collections::{HashMap, HashSet};

use rust_decimal::Decimal;

use super::{open, ExecCtx, RowIter};
use crate::encoding::keycode;
use crate::error::Result;
use crate::expr::{Expr, Row};
use crate::plan::{AggCall, AggFunc, Plan};
use crate::types::ops::{binary_op, BinaryOp};
use crate::types::{cast, compare, DataType, Value};

/// The running state of one aggregate in one group.
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
}

struct Accumulator<'a> {
    call: &'a AggCall,
    state: State,
    seen: Option<HashSet<Vec<u8>>>,
}

impl<'a> Accumulator<'a> {
    fn new(call: &'a AggCall) -> Self {
        let state = match call.func {
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

    fn add(&mut self, row: &[Value], ctx: &ExecCtx) -> Result<()> {
        let call = self.call;
        if let Some(f) = &call.filter {
            if !f.eval_predicate(row, ctx)? {
                return Ok(());
            }
        }
        if let AggFunc::CountStar = call.func {
            if let State::Count(n) = &mut self.state {
                *n += 1;
            }
            return Ok(());
        }
        let args = call
            .args
            .iter()
            .map(|a| a.eval(row, ctx))
            .collect::<Result<Vec<_>>>()?;
        let first = args.first().cloned().unwrap_or(Value::Null);
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
        match &mut self.state {
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
                    *sum += f;
                    *sumsq += f * f;
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

    fn finish(self) -> Result<Value> {
        let call = self.call;
        Ok(match self.state {
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
                finish_collect(call, items)?
            }
            State::Stats {
                n,
                sum,
                sumsq,
                dsum,
                dsumsq,
                exact,
            } => stats_result(&call.func, n, sum, sumsq, dsum, dsumsq, exact)?,
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
            // json_agg keeps each element's json text and joins them with
            // ", " (unlike to_json of an array, which uses ",").
            let mut parts = Vec::with_capacity(items.len());
            for (_, mut a) in items {
                let v = a.swap_remove(0);
                parts.push(if v.is_null() {
                    "null".to_string()
                } else {
                    match crate::functions::call("to_json", &[v])? {
                        Value::Json(t) => t,
                        _ => "null".to_string(),
                    }
                });
            }
            Value::Json(format!("[{}]", parts.join(", ")))
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
    sum: f64,
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
    let nf = n as f64;
    let var = ((nf * sumsq - sum * sum) / (nf * denom as f64)).max(0.0);
    Ok(Value::Float8(if sqrt { var.sqrt() } else { var }))
}

/// Opens an Aggregate node.
pub fn open_aggregate(
    input: &Plan,
    group_by: &[Expr],
    aggregates: &[AggCall],
    ctx: &ExecCtx,
) -> Result<RowIter> {
    let mut rows = open(input, ctx)?;
    let mut order: Vec<(Vec<Value>, Vec<Accumulator>)> = Vec::new();
    let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut counter = 0usize;
    for row in &mut rows {
        let row = row?;
        counter += 1;
        if counter.is_multiple_of(4096) {
            ctx.check_cancel()?;
        }
        let keys = group_by
            .iter()
            .map(|g| g.eval(&row, ctx))
            .collect::<Result<Vec<_>>>()?;
        let mut k = Vec::new();
        for v in &keys {
            let hv = match v {
                Value::Int2(i) => Value::Numeric((*i).into()),
                Value::Int4(i) => Value::Numeric((*i).into()),
                Value::Int8(i) => Value::Numeric((*i).into()),
                other => other.clone(),
            };
            keycode::encode_value(&mut k, &hv)?;
        }
        let slot = match index.get(&k) {
            Some(i) => *i,
            None => {
                order.push((keys, aggregates.iter().map(Accumulator::new).collect()));
                index.insert(k, order.len() - 1);
                order.len() - 1
            }
        };
        for acc in &mut order[slot].1 {
            acc.add(&row, ctx)?;
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
