//! A tiny shell over the in-memory engine: reads statements (one per line)
//! from stdin and prints results. For trying the SQL layer without a node.

use std::io::BufRead;

use rustydb_sql::memory::MemoryStorage;
use rustydb_sql::types::text;
use rustydb_sql::{Engine, QueryResult};

fn main() {
    let Ok(engine) = Engine::new(MemoryStorage::new()) else {
        return;
    };
    let Ok(mut session) = engine.connect("postgres", "postgres") else {
        return;
    };
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        println!("> {line}");
        for r in session.simple_query(&line) {
            match r {
                Ok(QueryResult::Rows { columns, rows, tag }) => {
                    let names: Vec<String> = columns
                        .iter()
                        .map(|c| format!("{}:{:?}", c.name, c.data_type))
                        .collect();
                    println!("  {}", names.join(" | "));
                    for row in rows {
                        let vals: Vec<String> = row
                            .iter()
                            .map(|v| {
                                if v.is_null() {
                                    "NULL".into()
                                } else {
                                    text::format(v)
                                }
                            })
                            .collect();
                        println!("  {}", vals.join(" | "));
                    }
                    println!("  {tag}");
                }
                Ok(QueryResult::Command { tag }) => println!("  {tag}"),
                Ok(other) => println!("  {other:?}"),
                Err(e) => println!("  ERROR {}: {}", e.state(), e.message()),
            }
        }
    }
}
