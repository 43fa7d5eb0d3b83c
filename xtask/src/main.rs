//! Project automation (`cargo xtask ...`).

fn main() -> anyhow::Result<()> {
    anyhow::bail!("xtask: no tasks exist yet; see the README status table")
}
