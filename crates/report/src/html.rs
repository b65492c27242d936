//! Self-contained HTML pages from the Markdown reports: one file per report, every SVG figure
//! inlined, a small stylesheet in the page, no JavaScript and nothing fetched from the network.
//!
//! The Markdown stays the source (it reads well in a terminal and in a diff); [`markdown_to_html`]
//! renders the subset our reports use: headings, paragraphs, bullet and numbered lists, tables,
//! block quotes (verdicts), images on their own line (figures), and inline code, bold and links.
//! Links to a sibling `.md` report point to its `.html` page.

use std::fmt::Write as _;

use crate::svg::escape;

const STYLE: &str = "body{font-family:Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;\
padding:0 1.2em;color:#222;line-height:1.45}h1{font-size:1.6em;border-bottom:1px solid #ccc;\
padding-bottom:.2em}h2{font-size:1.3em;margin-top:1.6em}h3{font-size:1.1em}\
table{border-collapse:collapse;margin:1em 0;font-size:.92em}th,td{border:1px solid #ccc;\
padding:.25em .6em;text-align:left}th{background:#f3f3f3}td.num{text-align:right}\
code{background:#f3f3f3;padding:0 .2em;border-radius:3px}\
blockquote{margin:1em 0;padding:.6em 1em;border-left:5px solid #888;background:#f7f7f7}\
blockquote.good{border-color:#2ca02c;background:#eef8ee}\
blockquote.bad{border-color:#d62728;background:#fbeeee}\
blockquote.caution{border-color:#ff7f0e;background:#fff5ea}\
figure{display:inline-block;margin:.8em 1em .8em 0;vertical-align:top}\
figcaption{font-size:.9em;color:#555;max-width:520px}figure svg{display:block;max-width:100%;height:auto}";

/// A whole HTML page titled `title` around `body` (already HTML).
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n\
         </head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

/// Inline Markdown (code spans, `**bold**`, `[text](link)`) as HTML, everything else escaped.
fn inline(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('`')
            && let Some(end) = after.find('`')
        {
            let _ = write!(out, "<code>{}</code>", escape(&after[..end]));
            rest = &after[end + 1..];
            continue;
        }
        if let Some(after) = rest.strip_prefix("**")
            && let Some(end) = after.find("**")
        {
            let _ = write!(out, "<strong>{}</strong>", inline(&after[..end]));
            rest = &after[end + 2..];
            continue;
        }
        if let Some(after) = rest.strip_prefix('[')
            && let Some(close) = after.find("](")
            && let Some(end) = after[close + 2..].find(')')
        {
            let label = &after[..close];
            let target = &after[close + 2..close + 2 + end];
            let target = match target.strip_suffix(".md") {
                Some(stem) if !target.contains("://") => format!("{stem}.html"),
                _ => target.to_string(),
            };
            let _ = write!(out, "<a href=\"{}\">{}</a>", escape(&target), inline(label));
            rest = &after[close + 2 + end + 1..];
            continue;
        }
        let next = rest[1..]
            .find(['`', '*', '['])
            .map_or(rest.len(), |i| i + 1);
        out.push_str(&escape(&rest[..next]));
        rest = &rest[next..];
    }
    out
}

/// `![alt](target)` when `line` is exactly one image.
fn image(line: &str) -> Option<(&str, &str)> {
    let body = line.trim().strip_prefix("![")?.strip_suffix(')')?;
    let (alt, target) = body.split_once("](")?;
    Some((alt, target))
}

/// The cells of a table row; `\|` is a literal bar inside a cell.
fn table_cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                if let Some(cell) = cells.last_mut() {
                    cell.push('|');
                }
            }
            '|' => cells.push(String::new()),
            c => {
                if let Some(cell) = cells.last_mut() {
                    cell.push(c);
                }
            }
        }
    }
    cells.into_iter().map(|c| c.trim().to_string()).collect()
}

fn is_separator(line: &str) -> bool {
    let t = line.trim();
    t.starts_with('|') && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// A cell that is a number (possibly with an interval) is right-aligned.
fn numeric(cell: &str) -> bool {
    cell.split_whitespace()
        .next()
        .is_some_and(|w| w.trim_end_matches('x').parse::<f64>().is_ok())
}

/// The tone of a block quote from its first words: verdicts that say a level was reached are
/// "good", ones that say it was not are "bad", warnings "caution".
fn tone(text: &str) -> &'static str {
    let lower = text.to_lowercase();
    if lower.contains("no verdict") {
        "neutral"
    } else if ["did not", "not within", "not reached", "not recovered"]
        .iter()
        .any(|w| lower.contains(w))
    {
        "bad"
    } else if ["warning", "degenerate", "caution"]
        .iter()
        .any(|w| lower.contains(w))
    {
        "caution"
    } else if ["reached", "within", "recovered", "passed"]
        .iter()
        .any(|w| lower.contains(w))
    {
        "good"
    } else {
        "neutral"
    }
}

/// `markdown` as the body of an HTML page; `figure(target)` returns the SVG text of an image
/// link to inline it (an image it cannot resolve becomes a link).
pub fn markdown_to_html(markdown: &str, figure: &dyn Fn(&str) -> Option<String>) -> String {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        if trimmed.is_empty() {
            i += 1;
            continue;
        }
        if let Some(level) =
            (1..=4).find(|&l| trimmed.starts_with(&"#".repeat(l)) && trimmed[l..].starts_with(' '))
        {
            let _ = writeln!(
                out,
                "<h{level}>{}</h{level}>",
                inline(trimmed[level..].trim())
            );
            i += 1;
            continue;
        }
        if trimmed.starts_with('|') {
            let header = table_cells(trimmed);
            i += 1;
            if i < lines.len() && is_separator(lines[i]) {
                i += 1;
            }
            out.push_str("<table>\n<tr>");
            for cell in &header {
                let _ = write!(out, "<th>{}</th>", inline(cell));
            }
            out.push_str("</tr>\n");
            while i < lines.len() && lines[i].trim().starts_with('|') {
                out.push_str("<tr>");
                for cell in table_cells(lines[i]) {
                    let class = if numeric(&cell) { " class=\"num\"" } else { "" };
                    let _ = write!(out, "<td{class}>{}</td>", inline(&cell));
                }
                out.push_str("</tr>\n");
                i += 1;
            }
            out.push_str("</table>\n");
            continue;
        }
        if let Some((alt, target)) = image(trimmed) {
            match figure(target) {
                Some(svg) => {
                    let _ = writeln!(
                        out,
                        "<figure>{}<figcaption>{}</figcaption></figure>",
                        svg.trim_end(),
                        inline(alt)
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "<p><a href=\"{}\">{}</a></p>",
                        escape(target),
                        inline(alt)
                    );
                }
            }
            i += 1;
            continue;
        }
        let bullet = |l: &str| l.trim_start().starts_with("- ");
        let numbered = |l: &str| {
            let t = l.trim_start();
            let digits = t.chars().take_while(char::is_ascii_digit).count();
            digits > 0 && t[digits..].starts_with(". ")
        };
        if bullet(line) || numbered(line) {
            let ordered = numbered(line);
            out.push_str(if ordered { "<ol>\n" } else { "<ul>\n" });
            while i < lines.len() && (bullet(lines[i]) || numbered(lines[i])) {
                let t = lines[i].trim_start();
                let mut item = if ordered {
                    t.split_once(". ").map_or(t, |(_, r)| r).to_string()
                } else {
                    t[2..].to_string()
                };
                i += 1;
                // Continuation lines: indented, not a new item.
                while i < lines.len()
                    && lines[i].starts_with("  ")
                    && !lines[i].trim().is_empty()
                    && !bullet(lines[i])
                    && !numbered(lines[i])
                {
                    item.push(' ');
                    item.push_str(lines[i].trim());
                    i += 1;
                }
                let _ = writeln!(out, "<li>{}</li>", inline(&item));
            }
            out.push_str(if ordered { "</ol>\n" } else { "</ul>\n" });
            continue;
        }
        if trimmed.starts_with('>') {
            let mut text = String::new();
            while i < lines.len() && lines[i].trim().starts_with('>') {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(lines[i].trim().trim_start_matches('>').trim());
                i += 1;
            }
            let _ = writeln!(
                out,
                "<blockquote class=\"{}\">{}</blockquote>",
                tone(&text),
                inline(&text)
            );
            continue;
        }
        let mut text = String::new();
        while i < lines.len() {
            let l = lines[i].trim();
            if l.is_empty()
                || l.starts_with('#')
                || l.starts_with('|')
                || l.starts_with('>')
                || image(l).is_some()
                || bullet(lines[i])
            {
                break;
            }
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(l);
            i += 1;
        }
        let _ = writeln!(out, "<p>{}</p>", inline(&text));
    }
    out
}

/// The title of a Markdown report: its first `# ` heading, or `fallback`.
pub fn title_of(markdown: &str, fallback: &str) -> String {
    markdown
        .lines()
        .find_map(|l| l.strip_prefix("# "))
        .map_or_else(|| fallback.to_string(), |t| t.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_subset_renders() {
        let md = "# Title\n\nSome `code` and **bold** text, a [link](stats.md).\n\n\
                  > **This run did not reach the level.**\n\n- one\n  continued\n- two\n\n\
                  | a | b |\n| --- | --- |\n| x | 0.5 [0.1, 0.9] |\n\n![a figure](plots/f.svg)\n\n\
                  ![missing](plots/g.svg)\n";
        let html = markdown_to_html(md, &|target| {
            (target == "plots/f.svg").then(|| "<svg><circle/></svg>".to_string())
        });
        assert!(html.contains("<h1>Title</h1>"));
        assert!(html.contains("<code>code</code> and <strong>bold</strong>"));
        assert!(html.contains("<a href=\"stats.html\">link</a>"));
        assert!(html.contains("<blockquote class=\"bad\">"));
        assert!(html.contains("<li>one continued</li>"));
        assert!(html.contains("<td class=\"num\">0.5 [0.1, 0.9]</td>"));
        assert!(html.contains("<figure><svg><circle/></svg><figcaption>a figure"));
        assert!(html.contains("<a href=\"plots/g.svg\">missing</a>"));
    }

    #[test]
    fn an_escaped_bar_stays_in_its_cell() {
        let html = markdown_to_html(
            "| a | b |\n|---|---|\n| AUC: \\|G(x) - x\\| | 1 |\n",
            &|_| None,
        );
        assert!(
            html.contains("<td>AUC: |G(x) - x|</td><td class=\"num\">1</td>"),
            "{html}"
        );
    }

    #[test]
    fn text_is_escaped() {
        let html = markdown_to_html("a < b & c > d `<x>`", &|_| None);
        assert_eq!(
            html,
            "<p>a &lt; b &amp; c &gt; d <code>&lt;x&gt;</code></p>\n"
        );
        assert!(page("t<", "").contains("<title>t&lt;</title>"));
    }

    #[test]
    fn unterminated_markup_is_text() {
        let html = markdown_to_html("a `b and **c and [d](e", &|_| None);
        assert_eq!(html, "<p>a `b and **c and [d](e</p>\n");
    }
}
