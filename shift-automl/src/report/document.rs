//! A small document model that both `report.md` and `report.html` are written from, so the two
//! always say the same thing.

/// One block of the report.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Block {
    /// A heading of level 1 to 3.
    Heading(u8, String),
    /// A paragraph of plain text; `code` spans are written between backticks.
    Para(Vec<Span>),
    /// A table: header cells, then rows of cells. Columns after the first `text_columns` are
    /// right-aligned (numbers).
    Table {
        /// Header cells.
        head: Vec<String>,
        /// Body rows.
        rows: Vec<Vec<String>>,
        /// Number of leading left-aligned columns.
        text_columns: usize,
    },
    /// A plot, by file stem (`front` for `front.svg` / `front.png`), with a caption.
    Figure(String, String),
}

/// A piece of a paragraph.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Span {
    /// Plain text.
    Text(String),
    /// Code or a literal value (monospaced).
    Code(String),
}

/// Shorthand for a paragraph of plain text.
pub(super) fn para(text: impl Into<String>) -> Block {
    Block::Para(vec![Span::Text(text.into())])
}

/// Markdown: CommonMark with GitHub's pipe tables. Figures link the PNG, which every viewer
/// shows.
pub(super) fn to_markdown(doc: &[Block]) -> String {
    let mut out = String::new();
    for b in doc {
        match b {
            Block::Heading(level, text) => {
                out.push_str(&"#".repeat(usize::from((*level).clamp(1, 6))));
                out.push(' ');
                out.push_str(text);
                out.push('\n');
            }
            Block::Para(spans) => {
                for s in spans {
                    match s {
                        Span::Text(t) => out.push_str(t),
                        Span::Code(t) => {
                            out.push('`');
                            out.push_str(&t.replace('`', "'"));
                            out.push('`');
                        }
                    }
                }
                out.push('\n');
            }
            Block::Table {
                head,
                rows,
                text_columns,
            } => {
                let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
                out.push_str("| ");
                out.push_str(&head.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | "));
                out.push_str(" |\n|");
                for i in 0..head.len() {
                    out.push_str(if i < *text_columns { "---|" } else { "---:|" });
                }
                out.push('\n');
                for r in rows {
                    out.push_str("| ");
                    out.push_str(&r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
                    out.push_str(" |\n");
                }
            }
            Block::Figure(stem, caption) => {
                out.push_str(&format!(
                    "![{caption}]({stem}.png)\n\n*{caption}* ([SVG]({stem}.svg))\n"
                ));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_tables_escape_pipes_and_align_numbers() {
        let doc = vec![
            Block::Heading(2, "T".to_string()),
            Block::Table {
                head: vec!["name".to_string(), "value".to_string()],
                rows: vec![vec!["a|b".to_string(), "1".to_string()]],
                text_columns: 1,
            },
        ];
        let md = to_markdown(&doc);
        assert!(
            md.starts_with("## T\n\n| name | value |\n|---|---:|\n| a\\|b | 1 |\n"),
            "{md}"
        );
    }
}
