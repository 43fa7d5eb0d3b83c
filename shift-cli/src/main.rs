//! The `deepshift` command-line tool.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("deepshift: no subcommands exist yet; see the README status table")
}
