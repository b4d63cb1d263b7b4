//! Comparing ordered results fairly: `ORDER BY` fixes the order of rows
//! with different sort keys, but rows with *equal* keys may come in any
//! order, and PostgreSQL and the node may legitimately differ there.
//!
//! So for a statement with a top-level `ORDER BY` whose items all name
//! output columns (by position, by output name, or `alias.column` when the
//! column name is unique), two results match when their sequences of sort
//! keys are identical and each run of equal keys holds the same rows as a
//! multiset. When an item is an expression we cannot map to an output
//! column, the comparison falls back to exact order (the corpus then avoids
//! ties on such keys).

type Rows = [Vec<Option<String>>];

/// Items of the last depth-0 `ORDER BY`, lowercased, with ASC/DESC and
/// NULLS FIRST/LAST removed, stopping at LIMIT/OFFSET/FETCH/FOR.
/// `None` when there is no top-level ORDER BY.
pub fn order_by_items(sql: &str) -> Option<Vec<String>> {
    // Mask quoted text and parenthesised spans so keywords inside them
    // are not seen, while keeping byte positions aligned with `sql`.
    let mut mask = String::with_capacity(sql.len());
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        let keep = if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            false
        } else {
            match c {
                '\'' | '"' => {
                    quote = Some(c);
                    false
                }
                '(' => {
                    depth += 1;
                    false
                }
                ')' => {
                    depth -= 1;
                    false
                }
                _ => depth == 0,
            }
        };
        // Same byte length as `c`, so indexes stay valid in `sql`.
        let fill = if keep { c.to_ascii_lowercase() } else { '#' };
        for _ in 0..c.len_utf8() {
            mask.push(if keep && c.is_ascii() { fill } else { '#' });
        }
    }
    let start = last_order_by(&mask)?;
    let tail_mask = &mask[start..];
    let end = ["limit", "offset", "fetch", "for"]
        .iter()
        .filter_map(|kw| find_word(tail_mask, kw))
        .min()
        .unwrap_or(tail_mask.len());
    let tail = &sql[start..start + end];
    let tail_mask = &tail_mask[..end];
    // Split at depth-0 commas (visible in the mask).
    let mut items = Vec::new();
    let mut from = 0;
    for (i, ch) in tail_mask.char_indices() {
        if ch == ',' {
            items.push(&tail[from..i]);
            from = i + 1;
        }
    }
    items.push(&tail[from..]);
    Some(items.into_iter().map(clean_item).collect())
}

/// Byte index just after the last depth-0 `order by` in a mask.
fn last_order_by(mask: &str) -> Option<usize> {
    let words: Vec<(usize, &str)> = word_spans(mask);
    words
        .windows(2)
        .filter(|w| w[0].1 == "order" && w[1].1 == "by")
        .map(|w| w[1].0 + 2)
        .next_back()
}

fn word_spans(s: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        let word = c.is_ascii_alphanumeric() || c == '_';
        match (word, start) {
            (true, None) => start = Some(i),
            (false, Some(st)) => {
                out.push((st, &s[st..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(st) = start {
        out.push((st, &s[st..]));
    }
    out
}

fn find_word(s: &str, kw: &str) -> Option<usize> {
    word_spans(s)
        .into_iter()
        .find(|(_, w)| *w == kw)
        .map(|(i, _)| i)
}

fn clean_item(item: &str) -> String {
    let mut words: Vec<String> = item.split_whitespace().map(str::to_string).collect();
    loop {
        let n = words.len();
        let last = words.last().map(|w| w.to_ascii_lowercase());
        match last.as_deref() {
            Some("asc") | Some("desc") => {
                words.pop();
            }
            Some("first") | Some("last")
                if n >= 2 && words[n - 2].eq_ignore_ascii_case("nulls") =>
            {
                words.truncate(n - 2);
            }
            _ => break,
        }
    }
    words.join(" ")
}

/// Output column indexes of the ORDER BY items, if every item maps to
/// exactly one output column.
pub fn order_key_columns(sql: &str, columns: &[String]) -> Option<Vec<usize>> {
    let items = order_by_items(sql)?;
    items
        .iter()
        .map(|item| {
            if let Ok(n) = item.parse::<usize>() {
                return (1..=columns.len()).contains(&n).then(|| n - 1);
            }
            let name = if item.starts_with('"') && item.ends_with('"') && item.len() >= 2 {
                item[1..item.len() - 1].to_string()
            } else {
                // `alias.column` → `column`; anything else must be a bare name.
                let bare = item.rsplit('.').next().unwrap_or(item);
                if !bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return None;
                }
                bare.to_ascii_lowercase()
            };
            let mut hits = columns
                .iter()
                .enumerate()
                .filter(|(_, c)| **c == name)
                .map(|(i, _)| i);
            let first = hits.next()?;
            hits.next().is_none().then_some(first)
        })
        .collect()
}

/// Ordered comparison that tolerates permutations among equal sort keys.
/// With `keys == None`, exact order is required.
pub fn same_ordered(a: &Rows, b: &Rows, keys: Option<&[usize]>) -> bool {
    let Some(keys) = keys else {
        return a == b;
    };
    if a.len() != b.len() {
        return false;
    }
    let key = |r: &Vec<Option<String>>| -> Vec<Option<String>> {
        keys.iter().map(|&i| r.get(i).cloned().flatten()).collect()
    };
    if !a.iter().map(key).eq(b.iter().map(key)) {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        let k = key(&a[i]);
        let mut j = i + 1;
        while j < a.len() && key(&a[j]) == k {
            j += 1;
        }
        let mut x = a[i..j].to_vec();
        let mut y = b[i..j].to_vec();
        x.sort();
        y.sort();
        if x != y {
            return false;
        }
        i = j;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn items_and_keys() {
        assert_eq!(
            order_by_items("SELECT a, b FROM t ORDER BY a DESC NULLS LAST, 2 LIMIT 3"),
            Some(vec!["a".to_string(), "2".to_string()])
        );
        assert_eq!(
            order_by_items("SELECT string_agg(a, ',' ORDER BY a) FROM t"),
            None
        );
        let c = cols(&["id", "name", "name"]);
        assert_eq!(
            order_key_columns("select id from t order by t.id", &c),
            Some(vec![0])
        );
        assert_eq!(order_key_columns("select * from t order by name", &c), None);
        assert_eq!(
            order_key_columns("select * from t order by lower(id)", &c),
            None
        );
        assert_eq!(
            order_key_columns("select * from t order by 3, 1", &c),
            Some(vec![2, 0])
        );
        let c = cols(&["Second Col"]);
        assert_eq!(
            order_key_columns("select 1 as \"Second Col\" order by \"Second Col\"", &c),
            Some(vec![0])
        );
    }

    #[test]
    fn ties_may_permute() {
        let r = |k: &str, v: &str| vec![Some(k.to_string()), Some(v.to_string())];
        let a = vec![r("1", "x"), r("1", "y"), r("2", "z")];
        let b = vec![r("1", "y"), r("1", "x"), r("2", "z")];
        assert!(same_ordered(&a, &b, Some(&[0])));
        assert!(!same_ordered(&a, &b, None));
        let c = vec![r("2", "z"), r("1", "x"), r("1", "y")];
        assert!(!same_ordered(&a, &c, Some(&[0])));
        let d = vec![r("1", "x"), r("1", "q"), r("2", "z")];
        assert!(!same_ordered(&a, &d, Some(&[0])));
    }
}
