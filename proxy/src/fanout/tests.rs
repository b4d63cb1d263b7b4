//! Unit tests of the fan-out's pure parts: analysis, rewriting, merging.

use bytes::{BufMut, BytesMut};

use super::analyze::analyze;
use super::lower::SumType;
use super::merge::{self, Field};
use super::rewrite::{self, ScanMerge, Split};
use super::{looks_like_select, PlanKind};
use crate::wire::Frame;

fn split(bounds: &[&str]) -> Split {
    Split {
        pk: "id".into(),
        pk_type: Some("int4".into()),
        bounds: bounds.iter().map(|b| b.to_string()).collect(),
    }
}

fn reason(sql: &str) -> &'static str {
    match analyze(sql) {
        Ok(_) => "split",
        Err(r) => r,
    }
}

#[test]
fn eligible_statements_split() {
    for sql in [
        "SELECT count(*) FROM t",
        "SELECT k, count(*), sum(v), avg(v) FROM t WHERE v > 3 GROUP BY k",
        "SELECT k, min(v), max(v) FROM t GROUP BY k HAVING count(*) > 1 ORDER BY k LIMIT 5",
        "SELECT count(DISTINCT k), sum(v) FROM t",
        "SELECT * FROM t WHERE v > 10",
        "SELECT id, v FROM t ORDER BY id DESC LIMIT 10 OFFSET 5",
        "SELECT DISTINCT k FROM t",
        "SELECT t.k, s.name, count(*) FROM t JOIN s ON s.k = t.k GROUP BY t.k, s.name",
        "SELECT a.k FROM t a LEFT JOIN s ON s.k = a.k ORDER BY a.v, a.id LIMIT 3",
        "/*+ parallel(3) */ SELECT sum(v) FROM t",
        "EXPLAIN SELECT sum(v) FROM t",
        "SELECT k % 3, sum(v) FROM t GROUP BY k % 3",
        "SELECT k, count(*) FILTER (WHERE v > 2) FROM t GROUP BY 1",
        "SELECT bool_and(v > 0), every(v > 1), bool_or(v > 5) FROM t",
    ] {
        assert_eq!(reason(sql), "split", "{sql}");
    }
}

#[test]
fn doubtful_statements_do_not_split() {
    for (sql, why) in [
        (
            "SELECT string_agg(name, ',') FROM t",
            "unsupported_aggregate",
        ),
        ("SELECT stddev(v) FROM t", "unsupported_aggregate"),
        ("SELECT k, row_number() OVER () FROM t", "window"),
        ("SELECT * FROM t WHERE k IN (SELECT k FROM s)", "subquery"),
        ("SELECT (SELECT max(v) FROM s) FROM t", "subquery"),
        ("WITH x AS (SELECT 1) SELECT * FROM t", "cte"),
        ("SELECT * FROM t UNION SELECT * FROM t", "set_operation"),
        ("SELECT * FROM t FOR UPDATE", "clause"),
        ("SELECT now(), count(*) FROM t", "volatile"),
        ("SELECT random() FROM t", "volatile"),
        ("SELECT nextval('s') FROM t", "volatile"),
        ("SELECT * FROM t RIGHT JOIN s ON s.k = t.k", "join_kind"),
        ("SELECT * FROM t FULL JOIN s ON s.k = t.k", "join_kind"),
        ("SELECT * FROM t, s", "comma_join"),
        ("SELECT * FROM (SELECT * FROM t) x", "subquery"),
        ("SELECT 1", "no_table"),
        ("SELECT * FROM t LIMIT 3", "limit_without_order"),
        ("SELECT DISTINCT ON (k) k, v FROM t", "distinct_on"),
        (
            "SELECT k, v, count(*) FROM t GROUP BY k",
            "ungrouped_column",
        ),
        ("SELECT * FROM pg_class", "system_table"),
        ("INSERT INTO t VALUES (1)", "not_select"),
        ("SELECT 1; SELECT 2", "not_one_statement"),
        ("SELECT * FROM t WHERE id = $1", "parameter"),
        (
            "SELECT array_agg(v ORDER BY v) FROM t",
            "unsupported_aggregate",
        ),
        (
            "SELECT count(*) FROM t GROUP BY ROLLUP (k)",
            "grouping_sets",
        ),
        ("SELECT DISTINCT k FROM t ORDER BY v", "distinct_order"),
        ("SELECT __rdb_m0__ FROM t", "reserved_name"),
        ("EXPLAIN ANALYZE SELECT count(*) FROM t", "not_select"),
    ] {
        assert_eq!(reason(sql), why, "{sql}");
    }
}

#[test]
fn aggregate_fragments_and_final_query() {
    let plan = analyze("SELECT k, count(*), sum(v), avg(v) FROM t WHERE v > 3 GROUP BY k HAVING max(v) > 1 ORDER BY 2 DESC, k LIMIT 5").unwrap();
    let frags = rewrite::fragments(&plan, &split(&["100", "200"])).unwrap();
    assert_eq!(frags.len(), 3);
    assert_eq!(
        frags[0],
        "SELECT k AS c0, count(*) AS c1, sum(v) AS c2, sum(v) AS c3, count(v) AS c4, max(v) AS c5 \
         FROM t WHERE (v > 3) AND t.\"id\" < '100'::INT4 GROUP BY k"
    );
    assert!(
        frags[1].contains("WHERE (v > 3) AND t.\"id\" >= '100'::INT4 AND t.\"id\" < '200'::INT4")
    );
    assert!(frags[2].ends_with("WHERE (v > 3) AND t.\"id\" >= '200'::INT4 GROUP BY k"));
    let PlanKind::Aggregate(agg) = &plan.kind else {
        panic!("aggregate expected");
    };
    let fin = rewrite::aggregate_final_sql(agg, |_| SumType::Int8, b"<rel>").unwrap();
    assert_eq!(
        String::from_utf8(fin).unwrap(),
        "SELECT c0, coalesce(sum(c1), 0)::int8, sum(c2)::int8, \
         (sum(c3)::numeric / nullif(sum(c4), 0)::numeric) FROM <rel> GROUP BY c0 \
         HAVING max(c5) > 1 ORDER BY 2 DESC, c0 LIMIT 5"
    );
    // Float sums have no exact merge.
    assert!(rewrite::aggregate_final_sql(agg, |_| SumType::Other, b"<rel>").is_none());
}

#[test]
fn distinct_aggregates_group_by_their_argument() {
    let plan = analyze("SELECT k, count(DISTINCT v), count(*) FROM t GROUP BY k").unwrap();
    let frags = rewrite::fragments(&plan, &split(&["5"])).unwrap();
    assert_eq!(
        frags[0],
        "SELECT k AS c0, v AS c1, count(*) AS c2 FROM t WHERE t.\"id\" < '5'::INT4 GROUP BY k, v"
    );
    let PlanKind::Aggregate(agg) = &plan.kind else {
        panic!("aggregate expected");
    };
    let fin = rewrite::aggregate_final_sql(agg, |_| SumType::Int8, b"R").unwrap();
    assert_eq!(
        String::from_utf8(fin).unwrap(),
        "SELECT c0, count(DISTINCT c1), coalesce(sum(c2), 0)::int8 FROM R GROUP BY c0"
    );
}

#[test]
fn scans_concatenate_or_merge_on_a_backend() {
    let plan =
        analyze("SELECT id, v FROM t AS x WHERE v > 1 ORDER BY id DESC LIMIT 10 OFFSET 5").unwrap();
    let PlanKind::Scan(scan) = &plan.kind else {
        panic!("scan expected");
    };
    assert_eq!(
        rewrite::scan_merge(scan, &plan.driving.qualifier, "id"),
        ScanMerge::Concat { reverse: true }
    );
    let frags = rewrite::fragments(&plan, &split(&["7"])).unwrap();
    assert_eq!(
        frags[1],
        "SELECT id, v FROM t AS x WHERE (v > 1) AND x.\"id\" >= '7'::INT4 ORDER BY id DESC LIMIT 15"
    );

    let plan = analyze("SELECT id FROM t ORDER BY v DESC NULLS LAST, 1 LIMIT 3").unwrap();
    let PlanKind::Scan(scan) = &plan.kind else {
        panic!("scan expected");
    };
    assert_eq!(rewrite::scan_merge(scan, "t", "id"), ScanMerge::Final);
    let frags = rewrite::fragments(&plan, &split(&["7"])).unwrap();
    assert_eq!(
        frags[0],
        "SELECT id, v AS __rdb_s0 FROM t WHERE t.\"id\" < '7'::INT4 ORDER BY v DESC NULLS LAST, 1 LIMIT 3"
    );
    let fin = rewrite::scan_final_sql(scan, 2, b"R");
    assert_eq!(
        String::from_utf8(fin).unwrap(),
        "SELECT c0 FROM R ORDER BY c1 DESC NULLS LAST, c0 LIMIT 3"
    );
    assert_eq!(rewrite::scan_visible_columns(scan, 2), 1);

    // No ORDER BY, no LIMIT: plain concatenation.
    let plan = analyze("SELECT * FROM t WHERE v = 1").unwrap();
    let PlanKind::Scan(scan) = &plan.kind else {
        panic!("scan expected");
    };
    assert_eq!(
        rewrite::scan_merge(scan, "t", "id"),
        ScanMerge::Concat { reverse: false }
    );
}

#[test]
fn range_bounds_are_quoted_literals() {
    let plan = analyze("SELECT count(*) FROM s").unwrap();
    let s = Split {
        pk: "Name".into(),
        pk_type: None,
        bounds: vec!["o'hara".into()],
    };
    let frags = rewrite::fragments(&plan, &s).unwrap();
    assert_eq!(
        frags[0],
        "SELECT count(*) AS c0 FROM s WHERE s.\"Name\" < 'o''hara'"
    );
    assert_eq!(
        frags[1],
        "SELECT count(*) AS c0 FROM s WHERE s.\"Name\" >= 'o''hara'"
    );
}

fn field(name: &str, oid: u32) -> Field {
    Field {
        name: name.as_bytes().to_vec(),
        table_oid: 0,
        attnum: 0,
        type_oid: oid,
        type_len: -1,
        type_mod: -1,
        format: 0,
    }
}

fn row(values: &[Option<&str>]) -> Frame {
    let mut body = BytesMut::new();
    body.put_i16(values.len() as i16);
    for v in values {
        match v {
            Some(v) => {
                body.put_i32(v.len() as i32);
                body.put_slice(v.as_bytes());
            }
            None => body.put_i32(-1),
        }
    }
    Frame::new(b'D', &body)
}

#[test]
fn descriptions_and_rows_round_trip() {
    let fields = vec![field("k", 23), field("sum", 1700)];
    let frame = Frame::from_raw(merge::row_description(&fields));
    assert_eq!(merge::parse_row_description(frame.body()).unwrap(), fields);
    let r = row(&[Some("1"), None]);
    assert_eq!(
        merge::data_row_values(r.body()).unwrap(),
        vec![Some(&b"1"[..]), None]
    );
    assert!(
        merge::data_row_values(&[0, 1, 0, 0]).is_err(),
        "truncated row"
    );
}

#[test]
fn partial_rows_become_a_typed_relation() {
    let fields = vec![field("c0", 25), field("c1", 20)];
    let rows = [row(&[Some("it's"), Some("3")]), row(&[None, Some("4")])];
    let rel = merge::values_relation(&fields, rows.iter().map(|r| r.body())).unwrap();
    assert_eq!(
        String::from_utf8(rel).unwrap(),
        "(VALUES ('it''s'::text,'3'::int8),(NULL::text,'4'::int8)) AS p(c0, c1)"
    );
    let empty = merge::values_relation(&fields, std::iter::empty()).unwrap();
    assert_eq!(
        String::from_utf8(empty).unwrap(),
        "(SELECT NULL::text AS c0, NULL::int8 AS c1 LIMIT 0) AS p"
    );
    let odd = vec![field("c0", 600)];
    assert_eq!(
        merge::values_relation(&odd, std::iter::empty()),
        Err("unknown_type")
    );
}

#[test]
fn concatenation_keeps_key_order_and_cuts() {
    let parts = vec![
        vec![row(&[Some("1")]), row(&[Some("2")])],
        vec![row(&[Some("3")])],
        vec![row(&[Some("4")]), row(&[Some("5")])],
    ];
    let text = |rows: Vec<Frame>| -> Vec<String> {
        rows.iter()
            .map(|r| {
                let v = merge::data_row_values(r.body()).unwrap();
                String::from_utf8(v[0].unwrap().to_vec()).unwrap()
            })
            .collect()
    };
    assert_eq!(
        text(merge::concat(&parts, false, Some(1), Some(3))),
        ["2", "3", "4"]
    );
    assert_eq!(text(merge::concat(&parts, true, None, Some(2))), ["4", "5"]);
    assert_eq!(text(merge::concat(&parts, false, Some(9), None)).len(), 0);
}

#[test]
fn sum_types_decide_exactness() {
    assert_eq!(merge::sum_type(20), SumType::Int8);
    assert_eq!(merge::sum_type(1700), SumType::Numeric);
    assert_eq!(merge::sum_type(701), SumType::Other);
    assert_eq!(merge::type_name(1184), Some("timestamptz"));
}

#[test]
fn cheap_prefilter() {
    assert!(looks_like_select("  /*+ parallel(2) */ SELECT 1"));
    assert!(looks_like_select("-- c\n(select 1)"));
    assert!(looks_like_select("explain select 1"));
    assert!(!looks_like_select("INSERT INTO t VALUES (1)"));
    assert!(!looks_like_select("/* unterminated SELECT"));
}
