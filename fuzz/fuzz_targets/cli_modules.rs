// The modules of the `deepshift` binary (shift-cli/src/main.rs, whose `crate::` paths they
// use), compiled into a fuzz target unchanged: shift-cli is a binary crate, and this keeps it
// one (no library target added just for fuzzing). Included with `include!` at the root of
// the targets that need the CLI's own readers.
#[path = "../../shift-cli/src/args.rs"]
mod args;
#[path = "../../shift-cli/src/bench_kernels.rs"]
mod bench_kernels;
#[path = "../../shift-cli/src/datasets.rs"]
mod datasets;
#[path = "../../shift-cli/src/export.rs"]
mod export;
#[path = "../../shift-cli/src/hpo.rs"]
mod hpo;
#[path = "../../shift-cli/src/hpo_bench.rs"]
mod hpo_bench;
#[path = "../../shift-cli/src/hpo_export.rs"]
mod hpo_export;
#[path = "../../shift-cli/src/hpo_objective.rs"]
mod hpo_objective;
#[path = "../../shift-cli/src/hpo_progress.rs"]
mod hpo_progress;
// hpo_report and hpo_study have submodules (`mod dsnn;`), which a file loaded by `#[path]`
// looks for beside itself: fuzz/cli/NAME/ holds links to NAME.rs (as mod.rs) and NAME/dsnn.rs.
#[path = "../cli/hpo_report/mod.rs"]
mod hpo_report;
#[path = "../cli/hpo_study/mod.rs"]
mod hpo_study;
#[path = "../../shift-cli/src/kernel_model.rs"]
mod kernel_model;
#[path = "../../shift-cli/src/pretrained.rs"]
mod pretrained;
#[path = "../../shift-cli/src/run.rs"]
mod run;
#[path = "../../shift-cli/src/task.rs"]
mod task;
#[path = "../../shift-cli/src/weights_file.rs"]
mod weights_file;
