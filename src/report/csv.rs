//! `-f csv`: the flat tables of [`super::flat`] as CSV (RFC 4180: a header line, fields with a
//! comma, quote or line break quoted, quotes doubled; an empty field is a null; times as
//! ISO 8601 text in UTC with every digit kept). On standard output, the connection table; with
//! `-o DIR`, `connections.csv`, `anomalies.csv` and (with `--app`) `app.csv`.

use std::io::{self, Write};

use super::flat::{Column, Row};
use super::iso_time::IsoTime;
use crate::time::Timestamp;

/// One CSV table being written.
pub struct CsvTable<W: Write> {
    out: W,
    columns: &'static [Column],
    header_written: bool,
    line: Vec<u8>,
    at: usize,
}

impl<W: Write> CsvTable<W> {
    /// A table of `columns` written to `out`.
    pub fn new(out: W, columns: &'static [Column]) -> Self {
        CsvTable {
            out,
            columns,
            header_written: false,
            line: Vec::with_capacity(512),
            at: 0,
        }
    }

    fn header(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.header_written = true;
            let names: Vec<&str> = self.columns.iter().map(|c| c.name).collect();
            writeln!(self.out, "{}", names.join(","))?;
        }
        Ok(())
    }

    /// Starts a record.
    pub fn begin_row(&mut self) -> io::Result<()> {
        self.header()?;
        self.line.clear();
        self.at = 0;
        Ok(())
    }

    /// Ends a record: writes its line.
    pub fn end_row(&mut self) -> io::Result<()> {
        debug_assert_eq!(self.at, self.columns.len(), "a record fills every column");
        self.line.push(b'\n');
        self.out.write_all(&self.line)
    }

    /// Writes out the rows buffered so far.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Writes the header of a table that got no record, and flushes.
    pub fn finish(&mut self) -> io::Result<()> {
        self.header()?;
        self.out.flush()
    }

    fn sep(&mut self) {
        if self.at > 0 {
            self.line.push(b',');
        }
        self.at += 1;
    }
}

impl<W: Write> Row for CsvTable<W> {
    fn u64(&mut self, v: Option<u64>) {
        self.sep();
        if let Some(v) = v {
            let _ = write!(self.line, "{v}");
        }
    }

    fn f64(&mut self, v: Option<f64>) {
        self.sep();
        if let Some(v) = v.filter(|v| v.is_finite()) {
            let _ = write!(self.line, "{v}");
        }
    }

    fn bool(&mut self, v: bool) {
        self.sep();
        self.line
            .extend_from_slice(if v { b"true" } else { b"false" });
    }

    fn str(&mut self, v: Option<&str>) {
        self.sep();
        let Some(v) = v else { return };
        if v.contains([',', '"', '\n', '\r']) {
            self.line.push(b'"');
            for b in v.bytes() {
                if b == b'"' {
                    self.line.push(b'"');
                }
                self.line.push(b);
            }
            self.line.push(b'"');
        } else {
            self.line.extend_from_slice(v.as_bytes());
        }
    }

    fn time(&mut self, v: Option<Timestamp>) {
        self.sep();
        if let Some(t) = v {
            let _ = write!(self.line, "{}", IsoTime::exact(t));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::flat::{ColType, Column};

    const COLS: &[Column] = &[
        Column {
            name: "a",
            ty: ColType::Str,
            nullable: true,
            doc: "",
        },
        Column {
            name: "b",
            ty: ColType::U64,
            nullable: true,
            doc: "",
        },
    ];

    #[test]
    fn quotes_what_needs_quoting_and_leaves_nulls_empty() {
        let mut out = Vec::new();
        let mut t = CsvTable::new(&mut out, COLS);
        for (a, b) in [
            (Some("x,\"y\""), Some(3)),
            (None, None),
            (Some("plain"), Some(0)),
        ] {
            t.begin_row().unwrap();
            t.str(a);
            t.u64(b);
            t.end_row().unwrap();
        }
        t.finish().unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a,b\n\"x,\"\"y\"\"\",3\n,\nplain,0\n"
        );
    }
}
