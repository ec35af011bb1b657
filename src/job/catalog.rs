//! The dataset catalog (`datasets.yaml`): where each extract lives, how it is encoded, and the
//! canonical columns with their source-header aliases and semantic types.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::error::Diagnostic;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    pub datasets: IndexMap<String, DatasetSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// What inspectors read, Chinese first.
    #[serde(default)]
    pub title: Option<String>,
    /// A file or a glob, relative to the catalog file; or, for a dataset that lives on a
    /// Spark cluster, `hive:db.table` or a URI (`hdfs://…`, `s3a://…`, `file://…`) of Parquet or
    /// ORC files, which only `--engine spark` reads (`Catalog::cluster_source`).
    pub path: Spanned<String>,
    /// A cluster dataset's column numbering its records, shown as the lead's row (行号); when
    /// absent the rows are numbered in the order of all their values.
    #[serde(default)]
    pub row: Option<String>,
    /// Inferred from the file extension when absent.
    #[serde(default)]
    pub format: Option<Format>,
    #[serde(default)]
    pub encoding: Encoding,
    /// xlsx: the sheet to read; the first sheet when absent.
    #[serde(default)]
    pub sheet: Option<String>,
    /// CSV field delimiter, `,` unless given.
    #[serde(default)]
    pub delimiter: Option<char>,
    /// The row holding the headers, as Excel numbers rows: 1 unless given (extracts often
    /// carry a title line or two above the header).
    #[serde(default)]
    pub header_row: Option<u64>,
    pub columns: IndexMap<String, ColumnSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
    Parquet,
    /// On a cluster only (`path` a URI).
    Orc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// UTF-8 (with or without BOM) when the bytes are valid UTF-8, else GB18030 (a superset
    /// of GBK); a file that is neither is an error, never a lossy decode.
    #[default]
    Auto,
    #[serde(rename = "utf-8", alias = "utf8")]
    Utf8,
    Gbk,
    Gb18030,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    #[serde(rename = "type")]
    pub ty: SemanticType,
    /// Source headers that mean this column (the canonical name itself always matches).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// A row with this column empty is rejected.
    #[serde(default)]
    pub required: bool,
    /// The file may lack this column entirely; it is loaded as NULL.
    #[serde(default)]
    pub optional: bool,
    /// Decimal places a `decimal` or `money` column holds (default: 4 for money, 6 for decimal,
    /// at most 9): a value with more is rejected, never rounded. A `float` column holds binary
    /// doubles as read, with no scale.
    #[serde(default)]
    pub scale: Option<u8>,
}

/// The most decimal places a column may declare: values stay exact in a double while
/// |value| × 10^scale < 2^53.
pub const MAX_SCALE: u8 = 9;

impl ColumnSpec {
    /// The decimal places of a decimal column (`None` for other types).
    pub fn decimal_scale(&self) -> Option<u8> {
        match self.ty {
            SemanticType::Money => Some(self.scale.unwrap_or(4)),
            SemanticType::Decimal => Some(self.scale.unwrap_or(6)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SemanticType {
    IdCard,
    Date,
    Datetime,
    Decimal,
    Money,
    Plate,
    /// A person's name: text, masked by `--mask`.
    Name,
    Text,
    Int,
    Float,
    Bool,
}

/// Types the expression language sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    Text,
    Int,
    Float,
    Bool,
    Date,
    Datetime,
    /// The NULL literal: compatible with everything.
    Null,
}

impl std::fmt::Display for ValueType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ValueType::Text => "text",
            ValueType::Int => "int",
            ValueType::Float => "decimal",
            ValueType::Bool => "bool",
            ValueType::Date => "date",
            ValueType::Datetime => "datetime",
            ValueType::Null => "null",
        })
    }
}

impl SemanticType {
    pub fn value_type(self) -> ValueType {
        match self {
            SemanticType::IdCard
            | SemanticType::Plate
            | SemanticType::Name
            | SemanticType::Text => ValueType::Text,
            SemanticType::Date => ValueType::Date,
            SemanticType::Datetime => ValueType::Datetime,
            SemanticType::Decimal | SemanticType::Money | SemanticType::Float => ValueType::Float,
            SemanticType::Int => ValueType::Int,
            SemanticType::Bool => ValueType::Bool,
        }
    }
}

/// Suffixes of the columns an `id_card` column adds beside itself.
pub const ID_RAW_SUFFIX: &str = "_raw";
pub const ID_ISSUE_SUFFIX: &str = "_issue";

/// A row number unique within a dataset, for joining back.
pub const ROW_ID: &str = "__rid";

/// Where a cluster dataset lives: Spark reads it there, and only the leads leave the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterSource {
    /// `hive:db.table`: a table of the session's catalog (Hive metastore).
    Table(String),
    /// Parquet or ORC files (a file or a folder) by URI.
    Files { uri: String, format: Format },
}

impl ClusterSource {
    /// As the run's provenance shows it (the lead's file column).
    pub fn shown(&self) -> String {
        match self {
            ClusterSource::Table(t) => format!("hive:{t}"),
            ClusterSource::Files { uri, .. } => uri.clone(),
        }
    }
}

/// The scheme of a URI (`hdfs` of `hdfs://nn/x`), `None` for a path. One letter is a drive
/// (`C:\x`), not a scheme; only ASCII letters, digits and `+.-`, as RFC 3986 has it.
pub fn uri_scheme(s: &str) -> Option<&str> {
    let (head, _) = s.split_once(':')?;
    let ok = head.len() > 1
        && head.starts_with(|c: char| c.is_ascii_alphabetic())
        && head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'));
    ok.then_some(head)
}

/// A dataset's place on a cluster, from its `path` (`None`: files on this machine), or why the
/// declaration cannot be read.
pub fn cluster_source(spec: &DatasetSpec) -> Result<Option<ClusterSource>, String> {
    let path = spec.path.value.trim();
    let Some(scheme) = uri_scheme(path) else {
        return Ok(None);
    };
    if scheme.eq_ignore_ascii_case("hive") {
        let table = &path[scheme.len() + 1..];
        let part = |p: &str| {
            p.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let parts: Vec<&str> = table.split('.').collect();
        if parts.len() > 2 || !parts.iter().all(|p| part(p)) {
            return Err(format!(
                "`{path}` is not a table name: write hive:database.table (letters, digits, `_`)"
            ));
        }
        return Ok(Some(ClusterSource::Table(table.to_string())));
    }
    let format = match spec.format {
        Some(f @ (Format::Parquet | Format::Orc)) => f,
        Some(_) => {
            return Err(format!(
                "`{path}` is on a cluster: Spark reads Parquet or ORC there (format: parquet or orc)"
            ));
        }
        None => {
            let lower = path.trim_end_matches('/').to_ascii_lowercase();
            if lower.ends_with(".parquet") {
                Format::Parquet
            } else if lower.ends_with(".orc") {
                Format::Orc
            } else {
                return Err(format!(
                    "`{path}`: say which files are there with `format: parquet` or `format: orc`"
                ));
            }
        }
    };
    Ok(Some(ClusterSource::Files {
        uri: path.to_string(),
        format,
    }))
}

/// Personal data a column holds: what `--mask` hides in exports.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, Deserialize,
)]
pub enum Personal {
    Name,
    Id,
}

/// A validated catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub path: PathBuf,
    pub base_dir: PathBuf,
    pub datasets: IndexMap<String, DatasetSpec>,
}

impl Catalog {
    pub fn load(path: &Path) -> Result<Catalog, Vec<Diagnostic>> {
        let text = fs_err::read_to_string(path).map_err(|e| {
            vec![Diagnostic::new(
                path,
                0,
                0,
                format!("cannot read the catalog: {e}"),
            )]
        })?;
        let file: CatalogFile = super::yaml::parse_strict(path, &text).map_err(|d| vec![d])?;
        let mut diags = Vec::new();
        for (name, ds) in &file.datasets {
            // A dataset name becomes `rejected/<name>.csv` and a cache file name.
            if let Err(why) = super::names::check_safe_name(name) {
                diags.push(
                    super::yaml::at(
                        path,
                        &ds.path,
                        format!("dataset name `{}`: {why}", name.escape_debug()),
                    )
                    .with_help(
                        "a dataset name is one name: letters, digits, `_`, `-` (e.g. dibao_roll)",
                    ),
                );
            }
            match cluster_source(ds) {
                Err(why) => diags.push(super::yaml::at(
                    path,
                    &ds.path,
                    format!("dataset `{name}`: {why}"),
                )),
                Ok(Some(_)) => {
                    let local_only = [
                        ("encoding", ds.encoding != Encoding::Auto),
                        ("sheet", ds.sheet.is_some()),
                        ("delimiter", ds.delimiter.is_some()),
                        ("header_row", ds.header_row.is_some()),
                    ];
                    for (key, given) in local_only {
                        if given {
                            diags.push(super::yaml::at(path, &ds.path, format!(
                                "dataset `{name}` lives on the cluster: `{key}` is for files on this machine"
                            )).with_help("remove it; Spark reads the table's own types"));
                        }
                    }
                }
                Ok(None) => {
                    if ds.format == Some(Format::Orc) {
                        diags.push(super::yaml::at(path, &ds.path, format!(
                            "dataset `{name}`: ORC is read on a cluster only; give its path as a URI (hdfs://…, file://…)"
                        )));
                    }
                    if ds.row.is_some() {
                        diags.push(super::yaml::at(path, &ds.path, format!(
                            "dataset `{name}`: `row` is for datasets on a cluster; a file's rows are numbered as the file has them"
                        )));
                    }
                }
            }
            for (col, spec) in &ds.columns {
                if spec.scale.is_some() && spec.decimal_scale().is_none() {
                    diags.push(super::yaml::at(path, &ds.path, format!(
                        "dataset `{name}`: column `{col}` has a `scale` but is not decimal or money"
                    )));
                }
                if spec.scale.is_some_and(|s| s > MAX_SCALE) {
                    diags.push(super::yaml::at(path, &ds.path, format!(
                        "dataset `{name}`: column `{col}` declares scale {}; at most {MAX_SCALE} decimal places are kept exact",
                        spec.scale.unwrap_or_default()
                    )));
                }
                if spec.ty == SemanticType::IdCard {
                    for suffix in [ID_RAW_SUFFIX, ID_ISSUE_SUFFIX] {
                        let derived = format!("{col}{suffix}");
                        if ds.columns.contains_key(&derived) {
                            diags.push(super::yaml::at(path, &ds.path, format!(
                                "dataset `{name}`: column `{derived}` clashes with the column crosscheck derives from id_card column `{col}`"
                            )).with_help("rename that column"));
                        }
                    }
                }
                if col.starts_with("__") {
                    diags.push(super::yaml::at(path, &ds.path, format!(
                        "dataset `{name}`: column names starting with `__` are reserved for provenance (`{col}`)"
                    )));
                }
            }
        }
        if !diags.is_empty() {
            return Err(diags);
        }
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(Catalog {
            path: path.to_path_buf(),
            base_dir,
            datasets: file.datasets,
        })
    }

    /// The columns of a dataset holding names or ID numbers (with the `_raw` ID text).
    pub fn personal(&self, dataset: &str) -> Vec<(String, Personal)> {
        let Some(ds) = self.datasets.get(dataset) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, spec) in &ds.columns {
            match spec.ty {
                SemanticType::IdCard => {
                    out.push((name.clone(), Personal::Id));
                    out.push((format!("{name}{ID_RAW_SUFFIX}"), Personal::Id));
                }
                SemanticType::Name => out.push((name.clone(), Personal::Name)),
                _ => {}
            }
        }
        out
    }

    /// Every column a rule can name in a dataset, with its type: the declared columns, the
    /// derived `_raw` / `_issue` of ID columns, and provenance.
    /// A dataset's `money` columns.
    pub fn money_columns(&self, dataset: &str) -> Vec<String> {
        self.datasets
            .get(dataset)
            .map(|ds| {
                ds.columns
                    .iter()
                    .filter(|(_, c)| c.ty == SemanticType::Money)
                    .map(|(n, _)| n.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The decimal places of each decimal column of a dataset.
    pub fn scales(&self, dataset: &str) -> Vec<(String, u8)> {
        self.datasets
            .get(dataset)
            .map(|ds| {
                ds.columns
                    .iter()
                    .filter_map(|(n, c)| Some((n.clone(), c.decimal_scale()?)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Where a dataset lives on a cluster (`None`: on this machine, or not declared).
    pub fn cluster(&self, dataset: &str) -> Option<ClusterSource> {
        cluster_source(self.datasets.get(dataset)?).ok().flatten()
    }

    pub fn schema(&self, dataset: &str) -> Option<Vec<(String, ValueType)>> {
        let ds = self.datasets.get(dataset)?;
        let mut cols = Vec::new();
        for (name, spec) in &ds.columns {
            cols.push((name.clone(), spec.ty.value_type()));
            if spec.ty == SemanticType::IdCard {
                cols.push((format!("{name}{ID_RAW_SUFFIX}"), ValueType::Text));
                cols.push((format!("{name}{ID_ISSUE_SUFFIX}"), ValueType::Text));
            }
        }
        cols.push(("__file".into(), ValueType::Text));
        cols.push(("__sheet".into(), ValueType::Text));
        cols.push(("__row".into(), ValueType::Int));
        cols.push((ROW_ID.into(), ValueType::Int));
        Some(cols)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(body: &str) -> Result<Catalog, Vec<Diagnostic>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("datasets.yaml");
        std::fs::write(&path, format!("datasets:\n  people:\n{body}")).unwrap();
        Catalog::load(&path)
    }

    fn errors(body: &str) -> String {
        catalog(body)
            .unwrap_err()
            .iter()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
            .join("\n")
    }

    const COLUMNS: &str = "    columns:\n      id_card: { type: id_card }\n";

    #[test]
    fn a_dataset_on_a_cluster_is_a_table_or_files_by_uri() {
        let c = catalog(&format!(
            "    path: hive:audit.people\n    row: rec_no\n{COLUMNS}"
        ))
        .unwrap();
        assert_eq!(
            c.cluster("people"),
            Some(ClusterSource::Table("audit.people".into()))
        );
        assert_eq!(c.cluster("people").unwrap().shown(), "hive:audit.people");
        let c = catalog(&format!(
            "    path: hdfs://nn/registers/people/\n    format: orc\n{COLUMNS}"
        ))
        .unwrap();
        assert_eq!(
            c.cluster("people"),
            Some(ClusterSource::Files {
                uri: "hdfs://nn/registers/people/".into(),
                format: Format::Orc
            })
        );
        let c = catalog(&format!("    path: s3a://bucket/people.parquet\n{COLUMNS}")).unwrap();
        assert!(matches!(
            c.cluster("people"),
            Some(ClusterSource::Files {
                format: Format::Parquet,
                ..
            })
        ));
        // Files here, and a drive letter, are not on a cluster.
        for local in ["people.csv", "C:/data/people.csv"] {
            let c = catalog(&format!("    path: {local}\n{COLUMNS}")).unwrap();
            assert_eq!(c.cluster("people"), None, "{local}");
        }
    }

    #[test]
    fn what_a_cluster_dataset_cannot_be_is_refused_with_the_fix() {
        let e = errors(&format!("    path: hive:audit.people;drop\n{COLUMNS}"));
        assert!(e.contains("is not a table name"), "{e}");
        let e = errors(&format!("    path: hdfs://nn/registers/people/\n{COLUMNS}"));
        assert!(e.contains("`format: parquet` or `format: orc`"), "{e}");
        let e = errors(&format!(
            "    path: hdfs://nn/p.csv\n    format: csv\n{COLUMNS}"
        ));
        assert!(e.contains("Spark reads Parquet or ORC there"), "{e}");
        let e = errors(&format!(
            "    path: hive:audit.people\n    encoding: gbk\n{COLUMNS}"
        ));
        assert!(e.contains("`encoding` is for files on this machine"), "{e}");
        let e = errors(&format!("    path: people.orc\n    format: orc\n{COLUMNS}"));
        assert!(e.contains("ORC is read on a cluster only"), "{e}");
        let e = errors(&format!("    path: people.csv\n    row: rec_no\n{COLUMNS}"));
        assert!(e.contains("`row` is for datasets on a cluster"), "{e}");
    }
}
