//! `-f parquet -o DIR`: connection, anomaly and application records as Parquet files that
//! DuckDB, Spark, pandas and Polars read directly (`SELECT * FROM 'DIR/connections-*.parquet'`).
//!
//! Each table is a series of files `DIR/<table>-NNNNNN.parquet`, a new one every
//! `--rotate-records` records (and, live, every `--rotate-seconds` of capture time), so that a
//! long live run leaves files that can be read while it goes on. Columns come from
//! [`super::flat`]; values are buffered per column and written as one row group per
//! [`ROW_GROUP`] records, Snappy-compressed.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use super::flat::{ColType, Column, Row};
use super::json::Nanos;
use crate::time::Timestamp;

/// Records per row group.
pub const ROW_GROUP: usize = 65_536;

/// When a table starts a new file.
#[derive(Clone, Copy, Debug)]
pub struct Rotation {
    /// Records per file.
    pub records: u64,
    /// Capture seconds per file (live runs), if any.
    pub seconds: Option<f64>,
}

/// One table's values of the current row group, column by column.
enum Values {
    U64(Vec<i64>),
    F64(Vec<f64>),
    Bool(Vec<bool>),
    Str(Vec<ByteArray>),
    Time(Vec<i64>),
}

struct Buffer {
    values: Values,
    /// Definition levels: 1 present, 0 null (nullable columns only).
    defs: Vec<i16>,
}

/// One table: its schema, the buffered rows and the file being written.
pub struct Table {
    name: &'static str,
    dir: PathBuf,
    columns: &'static [Column],
    schema: Arc<Type>,
    buffers: Vec<Buffer>,
    /// Next column a [`Row`] call fills.
    at: usize,
    rows: usize,
    file: Option<SerializedFileWriter<File>>,
    /// Files started so far.
    files: u32,
    in_file: u64,
    window_start: Option<Timestamp>,
    rotation: Rotation,
    /// The first error met, returned at the next record (a `Row` call cannot return one).
    error: Option<io::Error>,
}

fn pq(e: ParquetError) -> io::Error {
    io::Error::other(e.to_string())
}

impl Table {
    /// A table `name` of `columns`, written into `dir`.
    pub fn new(
        dir: &Path,
        name: &'static str,
        columns: &'static [Column],
        rotation: Rotation,
    ) -> io::Result<Self> {
        let fields = columns
            .iter()
            .map(|c| {
                let (physical, logical) = match c.ty {
                    ColType::U64 => (Physical::INT64, Some(LogicalType::integer(64, false))),
                    ColType::F64 => (Physical::DOUBLE, None),
                    ColType::Bool => (Physical::BOOLEAN, None),
                    ColType::Str => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
                    ColType::Time => (
                        Physical::INT64,
                        Some(LogicalType::timestamp(true, TimeUnit::NANOS)),
                    ),
                };
                let rep = if c.nullable {
                    Repetition::OPTIONAL
                } else {
                    Repetition::REQUIRED
                };
                Type::primitive_type_builder(c.name, physical)
                    .with_repetition(rep)
                    .with_logical_type(logical)
                    .build()
                    .map(Arc::new)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(pq)?;
        let schema = Type::group_type_builder("schema")
            .with_fields(fields)
            .build()
            .map_err(pq)?;
        let buffers = columns
            .iter()
            .map(|c| Buffer {
                values: match c.ty {
                    ColType::U64 => Values::U64(Vec::new()),
                    ColType::F64 => Values::F64(Vec::new()),
                    ColType::Bool => Values::Bool(Vec::new()),
                    ColType::Str => Values::Str(Vec::new()),
                    ColType::Time => Values::Time(Vec::new()),
                },
                defs: Vec::new(),
            })
            .collect();
        Ok(Table {
            name,
            dir: dir.to_path_buf(),
            columns,
            schema: Arc::new(schema),
            buffers,
            at: 0,
            rows: 0,
            file: None,
            files: 0,
            in_file: 0,
            window_start: None,
            rotation,
            error: None,
        })
    }

    /// Starts a record at capture time `ts`: rotates the file when it is full or its time
    /// window has passed. Fill the record through `Row`, then call [`Table::end_row`].
    pub fn begin_row(&mut self, ts: Option<Timestamp>) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let window_over = match (self.rotation.seconds, self.window_start, ts) {
            (Some(s), Some(start), Some(t)) => (t.nanos() - start.nanos()) as f64 / 1e9 >= s,
            _ => false,
        };
        if self.file.is_some() && (self.in_file >= self.rotation.records || window_over) {
            self.close_file()?;
        }
        if self.file.is_none() {
            self.open_file()?;
            self.window_start = ts;
        }
        self.at = 0;
        Ok(())
    }

    /// Ends a record begun with [`Table::begin_row`].
    pub fn end_row(&mut self) -> io::Result<()> {
        debug_assert_eq!(
            self.at,
            self.columns.len(),
            "{}: a record fills every column",
            self.name
        );
        self.rows += 1;
        self.in_file += 1;
        if self.rows >= ROW_GROUP {
            self.flush()?;
        }
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn open_file(&mut self) -> io::Result<()> {
        self.files += 1;
        let path = self
            .dir
            .join(format!("{}-{:06}.parquet", self.name, self.files));
        let file = File::create(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("tcpaudit {}", env!("CARGO_PKG_VERSION")))
            .build();
        self.file = Some(
            SerializedFileWriter::new(file, self.schema.clone(), Arc::new(props)).map_err(pq)?,
        );
        self.in_file = 0;
        Ok(())
    }

    /// Writes the buffered rows as a row group.
    fn flush(&mut self) -> io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let Some(w) = self.file.as_mut() else {
            return Ok(());
        };
        let mut rg = w.next_row_group().map_err(pq)?;
        let mut i = 0;
        while let Some(mut cw) = rg.next_column().map_err(pq)? {
            let b = &mut self.buffers[i];
            let defs = self.columns[i].nullable.then_some(&b.defs[..]);
            match &mut b.values {
                Values::U64(v) | Values::Time(v) => {
                    cw.typed::<Int64Type>().write_batch(v, defs, None)
                }
                Values::F64(v) => cw.typed::<DoubleType>().write_batch(v, defs, None),
                Values::Bool(v) => cw.typed::<BoolType>().write_batch(v, defs, None),
                Values::Str(v) => cw.typed::<ByteArrayType>().write_batch(v, defs, None),
            }
            .map_err(pq)?;
            cw.close().map_err(pq)?;
            match &mut b.values {
                Values::U64(v) | Values::Time(v) => v.clear(),
                Values::F64(v) => v.clear(),
                Values::Bool(v) => v.clear(),
                Values::Str(v) => v.clear(),
            }
            b.defs.clear();
            i += 1;
        }
        rg.close().map_err(pq)?;
        self.rows = 0;
        Ok(())
    }

    fn close_file(&mut self) -> io::Result<()> {
        self.flush()?;
        if let Some(w) = self.file.take() {
            w.close().map_err(pq)?;
        }
        Ok(())
    }

    /// Writes what is buffered and closes the file; a table that received no record gets one
    /// empty file, so that queries over the directory find every table.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if self.files == 0 {
            self.open_file()?;
        }
        self.close_file()
    }

    /// The buffer of the next column, checking its type.
    fn next(&mut self, ty: ColType, present: bool) -> Option<&mut Values> {
        let i = self.at;
        self.at += 1;
        let c = self.columns.get(i)?;
        debug_assert!(
            c.ty == ty,
            "{}.{}: {ty:?} given for {:?}",
            self.name,
            c.name,
            c.ty
        );
        let b = &mut self.buffers[i];
        if c.nullable {
            b.defs.push(i16::from(present));
        } else if !present && self.error.is_none() {
            self.error = Some(io::Error::other(format!(
                "{}.{}: no value for a required column",
                self.name, c.name
            )));
        }
        // A null is only its definition level; a missing required value is an error above.
        present.then_some(&mut b.values)
    }
}

impl Row for Table {
    fn u64(&mut self, v: Option<u64>) {
        if let (Some(Values::U64(b)), Some(v)) = (self.next(ColType::U64, v.is_some()), v) {
            // Counts and ids fit: a u64 beyond i64::MAX would be a count of 9.2e18.
            b.push(v as i64);
        }
    }

    fn f64(&mut self, v: Option<f64>) {
        if let (Some(Values::F64(b)), Some(v)) = (self.next(ColType::F64, v.is_some()), v) {
            b.push(v);
        }
    }

    fn bool(&mut self, v: bool) {
        if let Some(Values::Bool(b)) = self.next(ColType::Bool, true) {
            b.push(v);
        }
    }

    fn str(&mut self, v: Option<&str>) {
        if let (Some(Values::Str(b)), Some(v)) = (self.next(ColType::Str, v.is_some()), v) {
            b.push(ByteArray::from(v.as_bytes().to_vec()));
        }
    }

    fn time(&mut self, v: Option<Timestamp>) {
        if let (Some(Values::Time(b)), Some(v)) = (self.next(ColType::Time, v.is_some()), v) {
            b.push(v.nanos());
        }
    }
}
