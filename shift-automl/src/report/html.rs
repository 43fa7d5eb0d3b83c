//! `report.html`: the same blocks as `report.md`, one file with the plots as inline SVG and its
//! style inline, so it opens anywhere without a network, a script or a web font.

use super::document::{Block, Span};
use super::plots::Plot;

const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;\
color:#222;line-height:1.45}\
h1{border-bottom:2px solid #1f77b4;padding-bottom:.2em}\
h2{margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:1em 0;font-size:.9em;display:block;overflow-x:auto}\
th,td{border:1px solid #ccc;padding:.25em .6em}th{background:#f0f4f8}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
code{background:#f3f3f3;padding:0 .2em;border-radius:3px;word-break:break-all}\
figure{margin:1.5em 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}\
figcaption{color:#555;font-size:.9em}";

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The SVG element of a plot, without an XML prolog (not allowed inside HTML).
fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

/// The whole page.
pub(super) fn to_html(title: &str, doc: &[Block], plots: &[Plot]) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!(
        "<title>HPO study report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(title)
    ));
    for b in doc {
        match b {
            Block::Heading(level, text) => {
                let l = (*level).clamp(1, 6);
                out.push_str(&format!("<h{l}>{}</h{l}>\n", esc(text)));
            }
            Block::Para(spans) => {
                out.push_str("<p>");
                for s in spans {
                    match s {
                        Span::Text(t) => out.push_str(&esc(t)),
                        Span::Code(t) => out.push_str(&format!("<code>{}</code>", esc(t))),
                    }
                }
                out.push_str("</p>\n");
            }
            Block::Table {
                head,
                rows,
                text_columns,
            } => {
                out.push_str("<table>\n<thead><tr>");
                for h in head {
                    out.push_str(&format!("<th>{}</th>", esc(h)));
                }
                out.push_str("</tr></thead>\n<tbody>\n");
                for r in rows {
                    out.push_str("<tr>");
                    for (i, c) in r.iter().enumerate() {
                        let class = if i < *text_columns {
                            ""
                        } else {
                            " class=\"n\""
                        };
                        out.push_str(&format!("<td{class}>{}</td>", esc(c)));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody>\n</table>\n");
            }
            Block::Figure(stem, caption) => {
                out.push_str(&format!("<figure id=\"{}\">\n", esc(stem)));
                match plots.iter().find(|p| p.stem == stem) {
                    Some(p) => out.push_str(inline_svg(&p.svg)),
                    None => out.push_str("<p>(plot not drawn)</p>"),
                }
                out.push_str(&format!(
                    "\n<figcaption>{}</figcaption>\n</figure>\n",
                    esc(caption)
                ));
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_strips_the_prolog() {
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(inline_svg("<?xml version=\"1.0\"?>\n<svg x>"), "<svg x>");
    }
}
