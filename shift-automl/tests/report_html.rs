//! `report.html` in a real browser: headless Chromium (Debian's `chromium`) loads the page from
//! disk, its DOM must hold the report's headings, tables and inline SVG plots, and a screenshot
//! must come out. Without Chromium the test prints why and passes, except when `CI` is set:
//! there a missing browser is a failure.
#![cfg(feature = "report")]

mod report_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use shift_automl::report::{Report, ReportOptions};

/// The browser's executable, when one is installed.
fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let ok = Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
            ok.then(|| PathBuf::from(name))
        })
}

fn headless(browser: &Path, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        "--window-size=1200,2000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[test]
fn report_html_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but chromium is not installed (.ci/run installs Debian's chromium)"
        );
        println!("skipped: chromium is not installed (apt-get install -y chromium)");
        return;
    };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report_html");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let r = Report::build(&report_support::study(60, 1), &ReportOptions::default()).unwrap();
    for f in r.render().unwrap() {
        std::fs::write(dir.join(&f.name), &f.bytes).unwrap();
    }
    let page = dir.join("report.html");
    let url = format!("file://{}", page.display());
    let profile = dir.join("profile");

    let out = headless(&browser, &profile)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium --dump-dom failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "<h1>HPO study report: zdt1-synthetic</h1>",
        "<h2>Pareto front</h2>",
        "<h2>Hypervolume over trials and budget</h2>",
        "<h2>Default configuration</h2>",
        "<h2>Hyperparameter importance</h2>",
        "<table>",
        "<figure id=\"front\">",
        "<figure id=\"importance\">",
    ] {
        assert!(dom.contains(needle), "DOM lacks {needle}");
    }
    // the parsed DOM still holds the four plots as SVG, with their shapes and text
    assert_eq!(dom.matches("<svg").count(), 4, "inline SVG plots");
    assert!(dom.matches("<circle").count() > 50);
    assert!(dom.contains("<text"));

    let shot = dir.join("report.png");
    let out = headless(&browser, &profile)
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = image::open(&shot).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (1200, 2000));
    // the page is not blank: headings, tables and plots put dark pixels on it
    let dark = img
        .pixels()
        .filter(|p| p.0.iter().all(|&c| c < 100))
        .count();
    assert!(dark > 5_000, "{dark} dark pixels in {}", shot.display());
    println!("screenshot: {}", shot.display());
}
