//! The pages `cargo xtask reproduce` writes (`runs/index.html` and each experiment's
//! `report.html`), checked in a browser like the CLI's reports. They exist only after a
//! reproduce run, so this test reads the folder named by `NEUROFORGE_REPORTS_DIR` and says it
//! skipped when that is unset; `.ci/run` sets it after the regression guard's runs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use crate::common::browser;

#[test]
#[ignore = "needs a reproduce run: .ci/run runs it with NEUROFORGE_REPORTS_DIR=runs after the guard"]
fn reproduced_experiment_pages_render_with_their_figures() {
    let Some(runs) = std::env::var_os("NEUROFORGE_REPORTS_DIR").map(std::path::PathBuf::from)
    else {
        eprintln!("skipped: NEUROFORGE_REPORTS_DIR is not set (no reproduce run to check)");
        return;
    };
    let index = std::fs::read_to_string(runs.join("index.html")).unwrap();
    let mut pages = 0;
    for entry in std::fs::read_dir(&runs).unwrap() {
        let dir = entry.unwrap().path();
        let page = dir.join("report.html");
        if !page.is_file() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            index.contains(&format!("href=\"{name}/report.html\"")),
            "index.html links {name}"
        );
        let figures = browser::check_report(&page, &format!("reproduce-{name}"));
        assert!(figures >= 1, "{name}: {figures} figures");
        pages += 1;
    }
    assert!(pages >= 1, "no report.html under {}", runs.display());
}
