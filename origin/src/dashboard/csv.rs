//! CSV export of the dashboard's tables (RFC 4180 quoting, formula-injection safe).
//!
//! A text cell that a spreadsheet would read as a formula (starting with `=`, `+`, `-`,
//! `@`, a tab or a carriage return) is prefixed with `'`. Numbers are written as numbers.

/// One cell of an exported table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// A fraction with up to six decimals; empty when undefined.
    Rate(Option<f64>),
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_owned())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Cell::Int(v)
    }
}

/// A table: header and rows.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

fn text_cell(raw: &str) -> String {
    let guarded = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{raw}")
    } else {
        raw.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

fn cell(c: &Cell) -> String {
    match c {
        Cell::Text(s) => text_cell(s),
        Cell::Int(v) => v.to_string(),
        Cell::Rate(Some(r)) => format!("{r:.6}"),
        Cell::Rate(None) => String::new(),
    }
}

impl Table {
    /// The CSV text, CRLF line ends.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<String> = self.header.iter().map(|h| text_cell(h)).collect();
        out.push_str(&header.join(","));
        out.push_str("\r\n");
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(cell).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        let t = Table {
            header: vec!["source", "views"],
            rows: vec![
                vec![Cell::from("a,b"), Cell::Int(3)],
                vec![Cell::from("say \"hi\""), Cell::Int(0)],
                vec![Cell::from("=HYPERLINK(\"x\")"), Cell::Int(1)],
                vec![Cell::from("-2+3"), Cell::Rate(Some(0.25))],
                vec![Cell::from("@SUM(A1)"), Cell::Rate(None)],
            ],
        };
        assert_eq!(
            t.to_csv(),
            "source,views\r\n\"a,b\",3\r\n\"say \"\"hi\"\"\",0\r\n\"'=HYPERLINK(\"\"x\"\")\",1\r\n'-2+3,0.250000\r\n'@SUM(A1),\r\n"
        );
    }
}
