//! The shape of an extract folder (`docs/extract-format.md`): the manifest, each file's
//! encoding and its columns, found by name.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use pcis_domain::customer::parse_date;
use pcis_domain::{DomainError, DomainResult, FieldError};

/// A file of the folder as a stream of records.
pub(super) type Reader = csv::Reader<Box<dyn Read + Send>>;

/// One line of the manifest.
pub(super) struct Manifested {
    pub rows: u64,
    pub gb18030: bool,
}

pub(super) fn file_error(file: &str, rule: &'static str) -> DomainError {
    tracing::warn!(file, rule, "extract file refused");
    DomainError::Invalid(vec![FieldError::new("file", rule)])
}

/// The manifest: business date and each file's row count and encoding.
pub(super) fn manifest(dir: &Path) -> DomainResult<(String, HashMap<String, Manifested>)> {
    let refused = || file_error("manifest.csv", "err.extract_manifest");
    let file = File::open(dir.join("manifest.csv")).map_err(|_| refused())?;
    let mut reader = csv::Reader::from_reader(file);
    let cols = Columns::new(reader.headers().map_err(|_| refused())?);
    let mut date = None;
    let mut files = HashMap::new();
    for record in reader.records() {
        let r = record.map_err(|_| refused())?;
        let d = cols.get(&r, "business_date");
        parse_date("business_date", d).ok().flatten().ok_or_else(refused)?;
        if date.get_or_insert_with(|| d.to_owned()) != d {
            return Err(refused());
        }
        let rows = cols.get(&r, "rows").parse().map_err(|_| refused())?;
        let gb18030 = match cols.get(&r, "encoding").to_ascii_uppercase().as_str() {
            "UTF-8" | "UTF8" => false,
            "GB18030" => true,
            _ => return Err(file_error("manifest.csv", "err.extract_encoding")),
        };
        files.insert(cols.get(&r, "file").to_owned(), Manifested { rows, gb18030 });
    }
    let date = date.ok_or_else(refused)?;
    Ok((date, files))
}

/// Columns found by name, so the core system may reorder them.
#[derive(Clone)]
pub(super) struct Columns(HashMap<String, usize>);

impl Columns {
    pub fn new(header: &csv::StringRecord) -> Columns {
        Columns(
            header
                .iter()
                .enumerate()
                .map(|(i, h)| (h.trim().trim_start_matches('\u{feff}').to_owned(), i))
                .collect(),
        )
    }

    pub fn get<'r>(&self, r: &'r csv::StringRecord, name: &str) -> &'r str {
        self.0.get(name).and_then(|i| r.get(*i)).unwrap_or("").trim()
    }

    pub fn opt<'r>(&self, r: &'r csv::StringRecord, name: &str) -> Option<&'r str> {
        Some(self.get(r, name)).filter(|v| !v.is_empty())
    }
}

/// Opens a file of the folder, transcoded from GB18030 when declared, and checks that its
/// header names every column the file must have.
pub(super) fn open(dir: &Path, file: &'static str, m: &Manifested) -> DomainResult<(Reader, Columns)> {
    let f = File::open(dir.join(file)).map_err(|_| file_error(file, "err.extract_missing"))?;
    let input: Box<dyn Read + Send> = if m.gb18030 {
        Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new().encoding(Some(encoding_rs::GB18030)).build(f),
        )
    } else {
        Box::new(f)
    };
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let cols = Columns::new(reader.headers().map_err(|_| file_error(file, "err.extract_encoding"))?);
    if !required(file).iter().all(|n| cols.0.contains_key(*n)) {
        return Err(file_error(file, "err.extract_columns"));
    }
    Ok((reader, cols))
}

/// The columns a file must have.
fn required(file: &str) -> &'static [&'static str] {
    match file {
        "institutions.csv" => &["code", "name", "parent_code", "kind"],
        "products.csv" => &["product_code", "product_type", "product_name", "currency"],
        "customers.csv" => &[
            "customer_no",
            "name",
            "gender",
            "birth_date",
            "id_type",
            "id_number",
            "mobile",
            "address",
            "institution_code",
        ],
        "accounts.csv" => &[
            "account_no",
            "customer_no",
            "product_code",
            "currency",
            "balance",
            "opened_on",
            "status",
            "institution_code",
        ],
        _ => &["txn_no", "account_no", "posted_at", "amount", "currency", "channel"],
    }
}
