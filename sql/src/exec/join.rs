//! Joins: hash join on equality keys, nested loops otherwise, and lateral.
//!
//! The right input is materialised (the build side); left rows stream.
//! Outer joins pad the missing side with NULLs; RIGHT and FULL joins remember
//! which right rows matched and emit the unmatched ones at the end.

use std::collections::HashMap;
use std::sync::Arc;

use super::{open, ExecCtx, RowIter};
use crate::encoding::keycode;
use crate::error::Result;
use crate::expr::{Expr, Row};
use crate::plan::{JoinKind, Plan};
use crate::types::Value;

/// A hashable form of key values: equal SQL values give equal bytes, across
/// integer widths and numeric scales. `None` when a key is NULL (never equal).
pub fn hash_key(values: &[Value]) -> Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    for v in values {
        let v = match v {
            Value::Null => return Ok(None),
            Value::Int2(i) => Value::Numeric((*i).into()),
            Value::Int4(i) => Value::Numeric((*i).into()),
            Value::Int8(i) => Value::Numeric((*i).into()),
            Value::Float4(f) => Value::Float8(f64::from(*f)),
            other => other.clone(),
        };
        keycode::encode_value(&mut out, &v)?;
    }
    Ok(Some(out))
}

/// Opens a `Plan::Join`.
pub fn open_join(plan: &Plan, ctx: &ExecCtx) -> Result<RowIter> {
    let Plan::Join {
        left,
        right,
        kind,
        equi,
        on,
        left_width,
        right_width,
    } = plan
    else {
        return Err(crate::Error::internal("not a join"));
    };
    let right_rows: Vec<Row> = open(right, ctx)?.collect::<Result<_>>()?;
    let left_iter = open(left, ctx)?;
    let (lw, rw) = (*left_width, *right_width);
    let mut index: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
    if !equi.is_empty() {
        for (i, r) in right_rows.iter().enumerate() {
            let vals = equi
                .iter()
                .map(|(_, re)| re.eval(r, ctx))
                .collect::<Result<Vec<_>>>()?;
            if let Some(k) = hash_key(&vals)? {
                index.entry(k).or_default().push(i);
            }
        }
    }
    let state = JoinState {
        ctx: ctx.clone(),
        kind: *kind,
        equi: equi.clone(),
        on: on.clone(),
        right_rows: Arc::new(right_rows),
        index,
        matched: Vec::new(),
        lw,
        rw,
    };
    Ok(Box::new(JoinIter {
        state,
        left: left_iter,
        pending: Vec::new().into_iter(),
        tail: None,
    }))
}

struct JoinState {
    ctx: ExecCtx,
    kind: JoinKind,
    equi: Vec<(Expr, Expr)>,
    on: Option<Expr>,
    right_rows: Arc<Vec<Row>>,
    index: HashMap<Vec<u8>, Vec<usize>>,
    matched: Vec<bool>,
    lw: usize,
    rw: usize,
}

impl JoinState {
    fn candidates(&self, left: &Row) -> Result<Vec<usize>> {
        if self.equi.is_empty() {
            return Ok((0..self.right_rows.len()).collect());
        }
        let vals = self
            .equi
            .iter()
            .map(|(le, _)| le.eval(left, &self.ctx))
            .collect::<Result<Vec<_>>>()?;
        Ok(match hash_key(&vals)? {
            Some(k) => self.index.get(&k).cloned().unwrap_or_default(),
            None => vec![],
        })
    }

    fn join_left(&mut self, left: Row) -> Result<Vec<Row>> {
        if self.matched.is_empty() && matches!(self.kind, JoinKind::Right | JoinKind::Full) {
            self.matched = vec![false; self.right_rows.len()];
        }
        let mut out = Vec::new();
        for i in self.candidates(&left)? {
            let mut row = left.clone();
            row.extend(self.right_rows[i].iter().cloned());
            let ok = match &self.on {
                Some(p) => p.eval_predicate(&row, &self.ctx)?,
                None => true,
            };
            if ok {
                if let Some(m) = self.matched.get_mut(i) {
                    *m = true;
                }
                out.push(row);
            }
        }
        if out.is_empty() && matches!(self.kind, JoinKind::Left | JoinKind::Full) {
            let mut row = left;
            row.extend(std::iter::repeat_n(Value::Null, self.rw));
            out.push(row);
        }
        Ok(out)
    }

    fn unmatched_right(&mut self) -> Vec<Row> {
        if !matches!(self.kind, JoinKind::Right | JoinKind::Full) {
            return vec![];
        }
        if self.matched.is_empty() {
            self.matched = vec![false; self.right_rows.len()];
        }
        self.right_rows
            .iter()
            .zip(&self.matched)
            .filter(|(_, m)| !**m)
            .map(|(r, _)| {
                let mut row: Row = std::iter::repeat_n(Value::Null, self.lw).collect();
                row.extend(r.iter().cloned());
                row
            })
            .collect()
    }
}

struct JoinIter {
    state: JoinState,
    left: RowIter,
    pending: std::vec::IntoIter<Row>,
    tail: Option<std::vec::IntoIter<Row>>,
}

impl Iterator for JoinIter {
    type Item = Result<Row>;

    fn next(&mut self) -> Option<Result<Row>> {
        loop {
            if let Some(r) = self.pending.next() {
                return Some(Ok(r));
            }
            if let Some(tail) = &mut self.tail {
                return tail.next().map(Ok);
            }
            match self.left.next() {
                Some(Ok(left)) => match self.state.join_left(left) {
                    Ok(rows) => self.pending = rows.into_iter(),
                    Err(e) => return Some(Err(e)),
                },
                Some(Err(e)) => return Some(Err(e)),
                None => self.tail = Some(self.state.unmatched_right().into_iter()),
            }
        }
    }
}

/// Opens a lateral join: the right plan runs once per left row.
pub fn open_lateral(
    left: &Plan,
    right: Arc<Plan>,
    left_outer: bool,
    right_width: usize,
    ctx: &ExecCtx,
) -> Result<RowIter> {
    let left_iter = open(left, ctx)?;
    let ctx = ctx.clone();
    Ok(Box::new(left_iter.flat_map(
        move |l| -> Box<dyn Iterator<Item = Result<Row>>> {
            let left_row = match l {
                Ok(r) => r,
                Err(e) => return Box::new(std::iter::once(Err(e))),
            };
            let inner = ctx.with_outer(&left_row);
            let rights: Result<Vec<Row>> = open(&right, &inner).and_then(|it| it.collect());
            match rights {
                Err(e) => Box::new(std::iter::once(Err(e))),
                Ok(rows) if rows.is_empty() && left_outer => {
                    let mut row = left_row;
                    row.extend(std::iter::repeat_n(Value::Null, right_width));
                    Box::new(std::iter::once(Ok(row)))
                }
                Ok(rows) => Box::new(rows.into_iter().map(move |r| {
                    let mut row = left_row.clone();
                    row.extend(r);
                    Ok(row)
                })),
            }
        },
    )))
}
