//! CSV input for the playground: each row becomes one JSON object, so the kernel's one event parser judges it.
//!
//! The first non-blank line is the header. Cells are RFC 4180 (commas, `"` quoting, `""` escapes; a quoted cell
//! may not span lines). A cell becomes a JSON number when it reads as one — except in the key, event id, label
//! and attribute columns, which stay strings (`007` is an id, not 7); `true`/`false` become booleans, empty cells
//! are left out (a missing field, as in JSON).

use detector_wasm::Config;
use serde_json::{Map, Number, Value};

/// Whether `input` looks like CSV rather than JSON lines: its first non-blank line is not a JSON object.
pub fn looks_like_csv(input: &str) -> bool {
    input.lines().find(|l| !l.trim().is_empty()).is_some_and(|l| !l.trim_start().starts_with('{'))
}

/// A data row: its line number and its JSON object text, or why the row cannot be read.
pub type Row = (u64, Result<String, String>);

/// Every data row; an error when the header lacks the value column (then no row could be scored).
pub fn to_json_lines(input: &str, config: &Config) -> Result<Vec<Row>, String> {
    let mut lines = input.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let Some((header_index, header_line)) = lines.next() else { return Ok(Vec::new()) };
    let header = split(header_line).map_err(|e| format!("csv header (line {}): {e}", header_index + 1))?;
    let header: Vec<String> = header.into_iter().map(|h| h.trim().to_string()).collect();
    if let Some(missing) = [&config.value_field].into_iter().find(|f| !header.contains(f)) {
        return Err(format!(
            "csv header has no column `{missing}` (value_field); the columns are: {}; set value_field to one of them",
            header.join(", ")
        ));
    }
    let text_columns: Vec<&String> =
        config.key_field.iter().chain([&config.event_id_field, &config.label_field]).chain(&config.attribute_fields).collect();
    let mut out = Vec::new();
    for (index, line) in lines {
        let number = index as u64 + 1;
        let cells = match split(line) {
            Ok(cells) if cells.len() == header.len() => cells,
            Ok(cells) => {
                out.push((number, Err(format!("csv row has {} cells, the header has {}", cells.len(), header.len()))));
                continue;
            }
            Err(e) => {
                out.push((number, Err(format!("csv row: {e}"))));
                continue;
            }
        };
        let mut object = Map::new();
        for (name, cell) in header.iter().zip(cells) {
            let cell = cell.trim();
            if cell.is_empty() {
                continue;
            }
            object.insert(name.clone(), cell_value(cell, text_columns.contains(&name)));
        }
        out.push((number, Ok(Value::Object(object).to_string())));
    }
    Ok(out)
}

fn cell_value(cell: &str, text: bool) -> Value {
    if !text {
        if let Ok(i) = cell.parse::<i64>() {
            return Value::Number(i.into());
        }
        if let Some(n) = cell.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
        match cell {
            "true" => return Value::Bool(true),
            "false" => return Value::Bool(false),
            _ => {}
        }
    }
    Value::String(cell.to_string())
}

/// Splits one CSV line into cells.
fn split(line: &str) -> Result<Vec<String>, String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '"') if at_start => {
                quoted = true;
                at_start = false;
            }
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => {
                quoted = false;
                if !matches!(chars.peek(), None | Some(',')) {
                    return Err(format!("text after the closing quote of cell {}", cells.len() + 1));
                }
            }
            (false, ',') => {
                cells.push(std::mem::take(&mut cell));
                at_start = true;
            }
            (_, c) => {
                cell.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return Err(format!("cell {} opens a quote that is never closed", cells.len() + 1));
    }
    cells.push(cell);
    Ok(cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_split_with_quotes_and_escapes() {
        assert_eq!(split(r#"a,"b,c","say ""hi""",,"#).unwrap(), ["a", "b,c", r#"say "hi""#, "", ""]);
        assert!(split(r#"a,"open"#).unwrap_err().contains("never closed"));
        assert!(split(r#""x"y,z"#).unwrap_err().contains("after the closing quote"));
    }

    #[test]
    fn rows_become_json_objects_with_ids_kept_as_text() {
        let input =
            "userId,amount,timestamp,transactionId,label\n007,12.5,1767225600000,42,normal\n\n008,x,1767225600000,43,normal\n009,1\n";
        let rows = to_json_lines(input, &Config::default()).unwrap();
        assert_eq!(rows[0].0, 2);
        let first: Value = serde_json::from_str(rows[0].1.as_ref().unwrap()).unwrap();
        assert_eq!(first["userId"], "007");
        assert_eq!(first["transactionId"], "42");
        assert_eq!(first["amount"], 12.5);
        assert_eq!(first["timestamp"], 1_767_225_600_000i64);
        assert_eq!(rows[1].0, 4, "blank lines keep the numbering");
        assert_eq!(rows[2], (5, Err("csv row has 2 cells, the header has 5".to_string())));
    }

    #[test]
    fn a_header_without_the_value_column_names_it() {
        let e = to_json_lines("user,price\nu,1\n", &Config::default()).unwrap_err();
        assert!(e.contains("`amount` (value_field)") && e.contains("user, price"), "{e}");
    }

    #[test]
    fn format_sniffing() {
        assert!(!looks_like_csv("\n {\"a\":1}\n"));
        assert!(looks_like_csv("userId,amount\n"));
    }
}
