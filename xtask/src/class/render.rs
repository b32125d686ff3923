//! The class matrix for people (terminal, HTML) and for programs (CSV;
//! the JSON is `ClassReport` as it is).

use super::{Cell, ClassReport, Row};
use crate::check::Stage;

fn mark(status: &str) -> &'static str {
    match status {
        "passed" => "✓",
        "failed" => "✗",
        "skipped" => "⊘",
        _ => "·",
    }
}

/// A cell's one-line explanation: check, message and hint.
fn explain(cell: &Cell) -> String {
    let mut text = String::new();
    if let Some(check) = &cell.check {
        text.push_str(check);
        text.push_str(": ");
    }
    text.push_str(cell.message.as_deref().unwrap_or(""));
    if let Some(hint) = &cell.hint {
        text.push_str(&format!(" (hint: {hint})"));
    }
    text
}

fn when(row: &Row) -> String {
    let commit = row
        .commit
        .as_deref()
        .map_or("no git".to_string(), |c| c.chars().take(7).collect());
    let dirty = if row.dirty { "+changes" } else { "" };
    let how = if row.cached {
        "cached".to_string()
    } else {
        format!("{:.0} s", row.seconds)
    };
    format!("{commit}{dirty}, {how}")
}

/// The progress line when a trainee is done.
pub fn progress_summary(row: &Row, stages: &[&Stage]) -> String {
    if let Some(error) = &row.error {
        return format!("{}: could not grade: {error}", row.trainee);
    }
    let cells: Vec<String> = stages
        .iter()
        .map(|s| {
            let status = row
                .stages
                .get(s.id)
                .map_or("missing", |c| c.status.as_str());
            format!("{} {}", s.number(), mark(status))
        })
        .collect();
    format!("{}: {} ({})", row.trainee, cells.join("  "), when(row))
}

pub fn terminal(report: &ClassReport) -> String {
    let width = report
        .trainees
        .iter()
        .map(|r| r.trainee.chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    let mut out = format!("{:<width$}", "trainee");
    for stage in &report.stages {
        out.push_str(&format!("  {}", &stage[..2]));
    }
    out.push_str("  commit, time\n");
    let mut notes = Vec::new();
    for row in &report.trainees {
        out.push_str(&format!("{:<width$}", row.trainee));
        for stage in &report.stages {
            let status = match (&row.error, row.stages.get(stage)) {
                (Some(_), None) => "!",
                (_, Some(cell)) => mark(&cell.status),
                (None, None) => "·",
            };
            out.push_str(&format!("  {status:<2}"));
            if let Some(cell) = row.stages.get(stage).filter(|c| c.status == "failed") {
                notes.push(format!("  {} {stage}: {}", row.trainee, explain(cell)));
            }
        }
        out.push_str(&format!("  {}\n", when(row)));
        if let Some(error) = &row.error {
            notes.push(format!("  {}: could not grade: {error}", row.trainee));
        }
    }
    out.push_str("\n✓ passed  ✗ failed  ⊘ skipped (a tool missing where it ran)  · not checked  ! could not grade\n");
    if !notes.is_empty() {
        out.push_str("\nFirst failing check of each failed stage:\n");
        for note in notes {
            out.push_str(&note);
            out.push('\n');
        }
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// One line per trainee: a column per stage (its status), then the commit,
/// whether it was cached, and the error if any.
pub fn csv(report: &ClassReport) -> String {
    let mut out = String::from("trainee");
    for stage in &report.stages {
        out.push(',');
        out.push_str(stage);
    }
    out.push_str(",commit,cached,seconds,error\n");
    for row in &report.trainees {
        out.push_str(&csv_field(&row.trainee));
        for stage in &report.stages {
            out.push(',');
            out.push_str(row.stages.get(stage).map_or("", |c| c.status.as_str()));
        }
        out.push_str(&format!(
            ",{},{},{:.1},{}\n",
            row.commit.as_deref().unwrap_or(""),
            row.cached,
            row.seconds,
            csv_field(row.error.as_deref().unwrap_or(""))
        ));
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A page with everything inline (no script, no outside file): the matrix,
/// each cell's first failing check as its tooltip, and the failures listed
/// below. Cells carry `data-trainee`, `data-stage` and `data-status`.
pub fn html(report: &ClassReport) -> String {
    let mut rows = String::new();
    let mut failures = String::new();
    for row in &report.trainees {
        let name = escape(&row.trainee);
        rows.push_str(&format!(
            "<tr data-trainee=\"{name}\"><th scope=\"row\">{name}</th>"
        ));
        for stage in &report.stages {
            let (status, title) = match row.stages.get(stage) {
                Some(cell) => (cell.status.as_str(), explain(cell)),
                None if row.error.is_some() => ("error", row.error.clone().unwrap_or_default()),
                None => ("missing", String::new()),
            };
            let shown = if status == "error" { "!" } else { mark(status) };
            rows.push_str(&format!(
                "<td class=\"{status}\" data-trainee=\"{name}\" data-stage=\"{}\" data-status=\"{status}\" title=\"{}\">{shown}</td>",
                escape(stage),
                escape(&title)
            ));
            if status == "failed" {
                failures.push_str(&format!(
                    "<li><b>{name}</b>, {}: {}</li>\n",
                    escape(stage),
                    escape(&title)
                ));
            }
        }
        rows.push_str(&format!(
            "<td class=\"when\">{}</td></tr>\n",
            escape(&when(row))
        ));
        if let Some(error) = &row.error {
            failures.push_str(&format!(
                "<li><b>{name}</b>: could not grade: {}</li>\n",
                escape(error)
            ));
        }
    }
    let heads: String = report
        .stages
        .iter()
        .map(|s| format!("<th scope=\"col\" title=\"{0}\">{0}</th>", escape(s)))
        .collect();
    let passed = report
        .trainees
        .iter()
        .flat_map(|r| r.stages.values())
        .filter(|c| c.status == "passed")
        .count();
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Class results</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: .4rem .8rem; text-align: center; }}
th[scope=row] {{ text-align: left; }}
td.passed {{ background: #d4f4d4; }}
td.failed {{ background: #f8d0d0; }}
td.skipped {{ background: #eee; color: #666; }}
td.missing, td.error {{ background: #fff3c4; }}
td.when {{ color: #666; font-size: .85rem; text-align: left; }}
.meta {{ color: #555; }}
</style>
</head>
<body>
<h1>Class results</h1>
<p class="meta">{class} · {trainees} trainee(s) × {stages} stage(s), {passed} stage(s) passed · sandbox: {sandbox}</p>
<table id="matrix">
<thead><tr><th scope="col">trainee</th>{heads}<th scope="col">commit, time</th></tr></thead>
<tbody>
{rows}</tbody>
</table>
<p class="meta">✓ passed · ✗ failed · ⊘ skipped (a tool missing where it ran) · · not checked · ! could not grade. Hover a cell for its first failing check.</p>
<h2>What failed</h2>
<ul id="failures">
{failures}</ul>
</body>
</html>
"#,
        class = escape(&report.class),
        trainees = report.trainees.len(),
        stages = report.stages.len(),
        sandbox = escape(&report.sandbox),
    )
}

#[cfg(test)]
mod tests {
    use super::{csv_field, escape};

    #[test]
    fn text_is_escaped_for_each_format() {
        assert_eq!(escape("<b a=\"x\">&"), "&lt;b a=&quot;x&quot;&gt;&amp;");
        assert_eq!(csv_field("a, \"b\""), "\"a, \"\"b\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
