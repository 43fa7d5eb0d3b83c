//! The runs of `cargo xtask reproduce`: the DeepShift README's MNIST and CIFAR-10 tables,
//! each with the paper's figure and the reference command's flags.

/// One row of a DeepShift README table.
pub struct Row {
    /// Short id for `--only` and for naming the float run a pre-trained row starts from.
    pub id: String,
    /// `mnist` or `cifar10` (the `deepshift` subcommand).
    pub dataset: &'static str,
    /// `scratch`, `pretrained` or `fewer-bits`.
    pub table: &'static str,
    /// Model name as the README's table writes it.
    pub model: String,
    /// Original, DeepShift-Q or DeepShift-PS (with the weight bits when not 5).
    pub variant: String,
    /// The paper's top-1 accuracy, percent.
    pub paper: f64,
    /// Flags after the subcommand (without epochs, seed and folders).
    pub args: Vec<String>,
    /// The float row whose trained weights this row starts from.
    pub pretrained_from: Option<String>,
    /// The reference command's epochs.
    pub reference_epochs: usize,
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

const Q: &[&str] = &["--shift-depth", "1000", "--shift-type", "Q"];
const PS: &[&str] = &[
    "--shift-depth",
    "1000",
    "--shift-type",
    "PS",
    "--opt",
    "radam",
];

/// The MNIST rows: simple FC and simple conv, original / Q / PS, from scratch and from the
/// pre-trained float model (the reference's 10 epochs).
fn mnist_rows() -> Vec<Row> {
    let mut rows = Vec::new();
    let models = [
        ("linear", "Simple FC", [96.92, 97.03, 98.26], [97.85, 98.26]),
        ("conv", "Simple Conv", [98.75, 98.81, 99.12], [99.15, 99.16]),
    ];
    for (ty, model, scratch, pretrained) in models {
        let base = ["--type", ty];
        for ((suffix, variant, extra), paper) in [
            ("float", "Original", &[][..]),
            ("q", "DeepShift-Q", Q),
            ("ps", "DeepShift-PS", PS),
        ]
        .into_iter()
        .zip(scratch)
        {
            rows.push(Row {
                id: format!("{ty}-{suffix}"),
                dataset: "mnist",
                table: "scratch",
                model: model.into(),
                variant: variant.into(),
                paper,
                args: strings(&[&base[..], extra].concat()),
                pretrained_from: None,
                reference_epochs: 10,
            });
        }
        for ((suffix, variant, extra), paper) in
            [("q", "DeepShift-Q", Q), ("ps", "DeepShift-PS", PS)]
                .into_iter()
                .zip(pretrained)
        {
            rows.push(Row {
                id: format!("{ty}-{suffix}-pretrained"),
                dataset: "mnist",
                table: "pretrained",
                model: model.into(),
                variant: variant.into(),
                paper,
                args: strings(&[&base[..], extra, &["--desc", "from_pretrained"]].concat()),
                pretrained_from: Some(format!("{ty}-float")),
                reference_epochs: 10,
            });
        }
    }
    rows
}

/// The CIFAR-10 rows: the "Train from Scratch" table (200 epochs, the reference's schedule),
/// "Train from Pre-Trained" (15 epochs at lr 1e-3, step 5) and "Using Fewer Bits" (resnet18).
fn cifar10_rows() -> Vec<Row> {
    let mut rows = Vec::new();
    let scratch = [
        ("resnet18", [94.45, 94.42, 93.20]),
        ("mobilenetv2", [93.57, 93.63, 92.64]),
        ("resnet20", [91.79, 89.85, 88.84]),
        ("resnet32", [92.39, 91.13, 89.97]),
        ("resnet44", [92.84, 91.29, 90.92]),
        ("resnet56", [93.46, 91.52, 91.11]),
    ];
    for (arch, papers) in scratch {
        for ((suffix, variant, extra), paper) in [
            ("float", "Original", &[][..]),
            ("q", "DeepShift-Q", Q),
            ("ps", "DeepShift-PS", PS),
        ]
        .into_iter()
        .zip(papers)
        {
            rows.push(Row {
                id: format!("cifar10-{arch}-{suffix}"),
                dataset: "cifar10",
                table: "scratch",
                model: arch.into(),
                variant: variant.into(),
                paper,
                args: strings(&[&["--arch", arch][..], extra].concat()),
                pretrained_from: None,
                reference_epochs: 200,
            });
        }
    }
    let fine_tune = [
        "--desc",
        "from_pretrained",
        "--lr",
        "1e-3",
        "--lr-step",
        "5",
    ];
    for (arch, papers) in [
        ("resnet18", [94.25, 94.12]),
        ("mobilenetv2", [93.04, 92.78]),
    ] {
        for ((suffix, variant, extra), paper) in
            [("q", "DeepShift-Q", Q), ("ps", "DeepShift-PS", PS)]
                .into_iter()
                .zip(papers)
        {
            rows.push(Row {
                id: format!("cifar10-{arch}-{suffix}-pretrained"),
                dataset: "cifar10",
                table: "pretrained",
                model: arch.into(),
                variant: variant.into(),
                paper,
                args: strings(&[&["--arch", arch][..], extra, &fine_tune].concat()),
                pretrained_from: Some(format!("cifar10-{arch}-float")),
                reference_epochs: 15,
            });
        }
    }
    for (bits, scratch_paper, pretrained_paper) in [
        ("4", 94.12, 94.13),
        ("3", 92.85, 91.16),
        ("2", 92.80, 90.68),
    ] {
        let base = [&["--arch", "resnet18"][..], PS, &["-wb", bits]].concat();
        rows.push(Row {
            id: format!("cifar10-resnet18-ps-wb{bits}"),
            dataset: "cifar10",
            table: "fewer-bits",
            model: "resnet18".into(),
            variant: format!("DeepShift-PS, {bits}-bit weights, from scratch"),
            paper: scratch_paper,
            args: strings(&base),
            pretrained_from: None,
            reference_epochs: 200,
        });
        rows.push(Row {
            id: format!("cifar10-resnet18-ps-wb{bits}-pretrained"),
            dataset: "cifar10",
            table: "fewer-bits",
            model: "resnet18".into(),
            variant: format!("DeepShift-PS, {bits}-bit weights, from pre-trained"),
            paper: pretrained_paper,
            args: strings(&[&base[..], &fine_tune].concat()),
            pretrained_from: Some("cifar10-resnet18-float".into()),
            reference_epochs: 15,
        });
    }
    rows
}

/// Every row, MNIST first; CIFAR-10 rows only when `with_cifar10` (its data is present).
pub fn rows(with_cifar10: bool) -> (Vec<Row>, Vec<Row>) {
    let (mut rows, cifar) = (mnist_rows(), cifar10_rows());
    if with_cifar10 {
        rows.extend(cifar);
        (rows, Vec::new())
    } else {
        (rows, cifar)
    }
}

/// Seconds per epoch (train + test) of the original PyTorch script on this machine kind, as
/// given in the project's issue 5 (not measured by `reproduce`); MNIST only.
pub fn torch_seconds_per_epoch(row: &Row) -> Option<f64> {
    if row.dataset != "mnist" {
        return None;
    }
    Some(match (row.model.as_str(), row.variant.as_str()) {
        ("Simple FC", "Original") => 10.7,
        ("Simple FC", "DeepShift-Q") => 15.2,
        ("Simple FC", "DeepShift-PS") => 13.6,
        ("Simple Conv", "Original") => 20.8,
        ("Simple Conv", "DeepShift-Q") => 25.3,
        _ => 28.2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnist_rows_match_the_readme_tables() {
        let (rows, skipped) = rows(false);
        assert_eq!(rows.len(), 10);
        assert_eq!(skipped.len(), 18 + 4 + 6);
        let ps = rows
            .iter()
            .find(|r| r.id == "linear-ps-pretrained")
            .unwrap();
        assert_eq!(ps.paper, 98.26);
        assert_eq!(ps.pretrained_from.as_deref(), Some("linear-float"));
        assert_eq!(
            ps.args.join(" "),
            "--type linear --shift-depth 1000 --shift-type PS --opt radam --desc from_pretrained"
        );
    }

    #[test]
    fn every_pretrained_row_names_an_existing_float_row() {
        let (rows, _) = rows(true);
        for row in &rows {
            if let Some(from) = &row.pretrained_from {
                let base = rows.iter().position(|r| &r.id == from).expect(from);
                let me = rows.iter().position(|r| r.id == row.id).unwrap();
                assert!(base < me, "{} runs before its base {from}", row.id);
            }
        }
        let wb2 = rows
            .iter()
            .find(|r| r.id == "cifar10-resnet18-ps-wb2")
            .unwrap();
        assert!(wb2.args.ends_with(&["-wb".to_string(), "2".to_string()]));
    }
}
