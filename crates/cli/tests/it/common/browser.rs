//! Reports checked the way a reader sees them: every SVG figure parses as XML, and the HTML page
//! loads in headless Chromium with no console messages, every figure with a non-zero size and
//! visible marks. A screenshot of the whole page goes to `NEUROFORGE_SCREENSHOT_DIR` when set
//! (CI's log folder), else to a temporary folder.
//!
//! Without a browser (`CHROMIUM`, or `chromium` / `chromium-browser` / `google-chrome` on the
//! PATH) the browser half is skipped with a message; `.ci/run` installs Debian's chromium so
//! that CI never skips it. `NEUROFORGE_REQUIRE_BROWSER=1` turns the skip into a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The headless browser to use, if any.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// The inline `<svg>...</svg>` elements of an HTML page.
fn inline_svgs(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<svg") {
        let Some(end) = rest[start..].find("</svg>") else {
            break;
        };
        out.push(&rest[start..start + end + "</svg>".len()]);
        rest = &rest[start + end..];
    }
    out
}

/// Assert that `text` is well-formed XML with an `svg` root that has a size.
fn assert_svg_parses(text: &str, what: &str) {
    let doc = roxmltree::Document::parse(text)
        .unwrap_or_else(|e| panic!("{what}: SVG does not parse: {e}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg", "{what}");
    for attr in ["width", "height"] {
        let v: f64 = root
            .attribute(attr)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{what}: no numeric {attr}"));
        assert!(v > 0.0, "{what}: {attr} {v}");
    }
}

/// The script added to a copy of the page: per figure its size and how many of its marks
/// (elements of class `mark`: points, lines, bars, cells, spikes) have a visible box, and the
/// page's height, written into the page for `--dump-dom` to show.
const PROBE: &str = r#"<script>
(function () {
  var figures = Array.prototype.map.call(document.querySelectorAll('svg'), function (svg) {
    var box = svg.getBoundingClientRect();
    var marks = svg.querySelectorAll('.mark');
    var visible = 0;
    Array.prototype.forEach.call(marks, function (m) {
      var b = m.getBoundingClientRect();
      var style = window.getComputedStyle(m);
      if ((b.width > 0 || b.height > 0) && style.visibility !== 'hidden' && style.display !== 'none') {
        visible += 1;
      }
    });
    return [box.width, box.height, marks.length, visible];
  });
  var out = document.createElement('pre');
  out.id = 'nf-probe';
  out.textContent = JSON.stringify({ figures: figures, height: document.documentElement.scrollHeight });
  document.body.appendChild(out);
})();
</script>"#;

/// Check the report page `html` (and the SVG files in `<stem>_plots/` beside it): every SVG
/// parses; in Chromium the page loads with no console messages and every figure has a size and
/// visible marks; a screenshot is saved as `<name>.png`. Returns the number of figures.
pub fn check_report(html: &Path, name: &str) -> usize {
    let text = std::fs::read_to_string(html).unwrap();
    assert!(text.starts_with("<!DOCTYPE html>"), "{}", html.display());
    for fetch in ["src=\"http", "<link", "<script", "<img"] {
        assert!(
            !text.contains(fetch),
            "{}: the page should need nothing else, but has {fetch}",
            html.display()
        );
    }
    let svgs = inline_svgs(&text);
    for (k, svg) in svgs.iter().enumerate() {
        assert_svg_parses(svg, &format!("{} inline figure {k}", html.display()));
    }
    let plots = html.with_file_name(format!(
        "{}_plots",
        html.file_stem().unwrap().to_string_lossy()
    ));
    if let Ok(entries) = std::fs::read_dir(&plots) {
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "svg") {
                assert_svg_parses(
                    &std::fs::read_to_string(&path).unwrap(),
                    &path.display().to_string(),
                );
            }
        }
    }
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("NEUROFORGE_REQUIRE_BROWSER").is_err(),
            "NEUROFORGE_REQUIRE_BROWSER is set but no Chromium was found"
        );
        eprintln!(
            "skipped the browser check of {}: no headless Chromium (install Debian's chromium, \
             or set CHROMIUM)",
            html.display()
        );
        return svgs.len();
    };
    let work = tempfile::tempdir().unwrap();
    let probed = work.path().join("probed.html");
    std::fs::write(
        &probed,
        text.replace("</body>", &format!("{PROBE}\n</body>")),
    )
    .unwrap();
    let run = |extra: &[String]| {
        let output = Command::new(&browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--hide-scrollbars",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!(
                "--user-data-dir={}",
                work.path().join("profile").display()
            ))
            .args(extra)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}: {}",
            browser.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    };
    let url = format!("file://{}", probed.display());
    let dumped = run(&["--dump-dom".into(), url.clone()]);
    let console: Vec<String> = String::from_utf8_lossy(&dumped.stderr)
        .lines()
        .filter(|l| l.contains("CONSOLE"))
        .map(str::to_string)
        .collect();
    assert!(
        console.is_empty(),
        "{}: console messages: {console:#?}",
        html.display()
    );
    let dom = String::from_utf8_lossy(&dumped.stdout).to_string();
    let probe = dom
        .split("<pre id=\"nf-probe\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or_else(|| panic!("{}: the page did not run the probe", html.display()))
        .replace("&quot;", "\"");
    let probe: serde_json::Value = serde_json::from_str(&probe).unwrap();
    let figures = probe["figures"].as_array().unwrap();
    assert_eq!(figures.len(), svgs.len(), "{}", html.display());
    for (k, f) in figures.iter().enumerate() {
        let v: Vec<f64> = f
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert!(
            v[0] > 50.0 && v[1] > 50.0,
            "{} figure {k}: rendered at {} x {}",
            html.display(),
            v[0],
            v[1]
        );
        assert!(
            v[3] >= 1.0,
            "{} figure {k}: {} marks, {} of them visible",
            html.display(),
            v[2],
            v[3]
        );
    }
    let height = probe["height"]
        .as_f64()
        .unwrap_or(2000.0)
        .clamp(600.0, 16000.0);
    let shots = std::env::var_os("NEUROFORGE_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| work.path().to_path_buf());
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join(format!("{name}.png"));
    run(&[
        format!("--window-size=1200,{}", height.ceil()),
        format!("--screenshot={}", shot.display()),
        format!("file://{}", html.display()),
    ]);
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "{}: screenshot of {size} bytes",
        shot.display()
    );
    eprintln!(
        "{}: {} figures checked in {}; screenshot {}",
        html.display(),
        figures.len(),
        browser.display(),
        shot.display()
    );
    figures.len()
}
