//! What commands print: `-o table` (aligned columns for people), `-o json` (the API's bodies,
//! the default when stdout is not a terminal), `-q` (ids only, one per line).

use std::io::IsTerminal;

use serde::Serialize;

use crate::error::{CliError, CliResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// `-o` and `-q`, accepted anywhere after the command group.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OutputArgs {
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(short = 'o', long = "output", global = true, value_enum)]
    pub output: Option<Format>,
    /// Print ids only, one per line.
    #[arg(short = 'q', long = "quiet", global = true)]
    pub quiet: bool,
}

/// Prints results in the chosen form.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub format: Format,
    pub quiet: bool,
}

impl Out {
    pub fn new(args: &OutputArgs) -> Out {
        Out {
            format: args.output.unwrap_or_else(default_format),
            quiet: args.quiet,
        }
    }

    /// A list: ids (`-q`), the whole JSON array, or a table of `headers` and `row(item)`.
    pub fn list<T: Serialize>(
        &self,
        items: &[T],
        id: impl Fn(&T) -> String,
        headers: &[&str],
        row: impl Fn(&T) -> Vec<String>,
    ) -> CliResult<()> {
        if self.quiet {
            items.iter().for_each(|item| println!("{}", id(item)));
            return Ok(());
        }
        match self.format {
            Format::Json => print_json(&items),
            Format::Table => {
                println!("{}", table(headers, items.iter().map(row).collect()));
                Ok(())
            }
        }
    }

    /// One resource: its id (`-q`), its JSON, or `field  value` lines.
    pub fn one<T: Serialize>(
        &self,
        item: &T,
        id: &str,
        fields: Vec<(&str, String)>,
    ) -> CliResult<()> {
        if self.quiet {
            println!("{id}");
            return Ok(());
        }
        match self.format {
            Format::Json => print_json(item),
            Format::Table => {
                let rows = fields
                    .into_iter()
                    .map(|(name, value)| vec![name.to_owned(), value])
                    .collect();
                println!("{}", table(&[], rows));
                Ok(())
            }
        }
    }

    /// An action on `id` that returns nothing: the id, `{"id", "status"}`, or a sentence.
    pub fn done(&self, id: &str, status: &str, sentence: &str) -> CliResult<()> {
        if self.quiet {
            println!("{id}");
            return Ok(());
        }
        match self.format {
            Format::Json => print_json(&serde_json::json!({ "id": id, "status": status })),
            Format::Table => {
                println!("{sentence}");
                Ok(())
            }
        }
    }
}

fn default_format() -> Format {
    if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    }
}

pub fn print_json<T: Serialize + ?Sized>(value: &T) -> CliResult<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|error| CliError::Unexpected(format!("cannot print JSON: {error}")))?;
    println!("{text}");
    Ok(())
}

/// Left-aligned columns two spaces apart; no header line when `headers` is empty.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut all: Vec<Vec<String>> = Vec::with_capacity(rows.len() + 1);
    if !headers.is_empty() {
        all.push(headers.iter().map(|header| (*header).to_owned()).collect());
    }
    all.extend(rows);
    let columns = all.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            all.iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    all.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(column, cell)| {
                    if column + 1 == row.len() {
                        cell.clone()
                    } else {
                        format!("{cell:<width$}", width = widths[column])
                    }
                })
                .collect();
            cells.join("  ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `yes`/`no` for table cells.
pub fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

/// The API's Unix-seconds strings (`"1796318863"`) as RFC 3339 for people; other text as is.
pub fn unix_time(text: &str) -> String {
    text.parse::<i64>()
        .ok()
        .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0))
        .map_or_else(
            || or_dash((!text.is_empty()).then_some(text)),
            |at| at.to_rfc3339(),
        )
}

/// An optional value, or `-`.
pub fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_and_leave_the_last_unpadded() {
        let text = table(
            &["ID", "NAME", "LANG"],
            vec![
                vec!["1".into(), "Hello".into(), "py".into()],
                vec!["22".into(), "A".into(), "go".into()],
            ],
        );
        assert_eq!(text, "ID  NAME   LANG\n1   Hello  py\n22  A      go");
    }

    #[test]
    fn unix_seconds_read_as_dates() {
        assert_eq!(unix_time("0"), "1970-01-01T00:00:00+00:00");
        assert_eq!(unix_time(""), "-");
        assert_eq!(unix_time("soon"), "soon");
    }

    #[test]
    fn an_empty_list_prints_its_header_only() {
        assert_eq!(table(&["ID", "NAME"], Vec::new()), "ID  NAME");
    }
}
