//! What the end-to-end tests share: where real MNIST is, and the rule for when it is missing.

use std::path::PathBuf;

/// The data root holding `mnist/` (`$DEEPSHIFT_DATA_DIR`, else `<workspace>/data`), or `None`
/// after printing why the calling test skips. With `DEEPSHIFT_REQUIRE_MNIST` set (CI), missing
/// data fails the test instead.
pub fn mnist_root_or_skip() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let data = std::env::var_os("DEEPSHIFT_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("data"));
    if data.join("mnist").join("t10k-images-idx3-ubyte").exists() {
        return Some(data);
    }
    assert!(
        std::env::var_os("DEEPSHIFT_REQUIRE_MNIST").is_none(),
        "MNIST missing in {}",
        data.display()
    );
    eprintln!(
        "SKIPPED: no MNIST in {} (run `cargo xtask data mnist`)",
        data.join("mnist").display()
    );
    None
}
