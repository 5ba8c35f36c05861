//! `cargo xtask`: build tooling for wasmcore.
//!
//! * `cargo xtask dist` builds the wasm module and the native library, post-processes the
//!   wasm (with [`wasmcore_post`]) and writes the artefacts and their manifest; in the same
//!   cargo run it builds the post-processor itself for wasm (`target/dist/wasmcore-post.wasm`,
//!   which the Python tool runs). The example author projects (`examples/`) are built by the
//!   author workflow (`just examples`), not here.
//! * `cargo xtask web` builds the core with its `web` feature (the wasm-bindgen API) into
//!   `target/web/build/` and runs `wasm-bindgen --target web`, writing `web/pkg/`.
//! * `cargo xtask postprocess IN.wasm OUT.wasm [--module NAME] [--version VERSION]`
//!   post-processes any module built with `wasmcore-abi` (for plugin authors).
//! * `cargo xtask manifest FILE.wasm` prints the manifest of a processed module.
//! * `cargo xtask crates` packages the publishable crates (`cargo package`, verified) and
//!   unpacks them into `target/crates/<name>/`.

use std::collections::BTreeMap;
use std::env;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, ExitCode};

use serde_json::Value;
use wasmcore_post::{postprocess, read_manifest};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  dist                                   build target/dist/wasmcore.wasm (+ .abi.json), the
                                         native library with its manifest and
                                         target/dist/wasmcore-post.wasm
  web                                    build the core's `web` feature (wasm-bindgen API) and
                                         write the JS package web/pkg/ (needs wasm-bindgen-cli:
                                         `just setup-web`)
  postprocess IN.wasm OUT.wasm [--module NAME] [--version VERSION]
                                         check IN's descriptors against its exports and write
                                         OUT with the normalized manifest (NAME defaults to
                                         IN's file stem; VERSION, a semver version, is
                                         recorded when given)
  manifest FILE.wasm                     print the manifest of a processed module
  crates                                 `cargo package` the publishable crates (verified)
                                         and unpack them into target/crates/<name>/
  help                                   print this message";

/// The wasm target the core is built for.
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Env var naming the bin directory of a Debian rust-web toolchain.
const WEB_TOOLCHAIN_VAR: &str = "WASMCORE_WEB_TOOLCHAIN";

type CliResult<T> = Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<OsString> = env::args_os().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &[OsString]) -> CliResult<()> {
    let Some((command, rest)) = args.split_first() else {
        return Err(format!("no command given\n\n{USAGE}"));
    };
    match command.to_str() {
        Some("dist") => {
            no_more_args(rest)?;
            dist()
        }
        Some("web") => {
            no_more_args(rest)?;
            web()
        }
        Some("crates") => {
            no_more_args(rest)?;
            crates()
        }
        Some("postprocess") => postprocess_cmd(rest),
        Some("manifest") => match rest {
            [file] => manifest_cmd(Path::new(file)),
            _ => Err(format!("`manifest` takes one FILE.wasm\n\n{USAGE}")),
        },
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!(
            "unknown command {:?}\n\n{USAGE}",
            command.to_string_lossy()
        )),
    }
}

fn no_more_args(rest: &[OsString]) -> CliResult<()> {
    match rest.first() {
        None => Ok(()),
        Some(arg) => Err(format!(
            "unexpected argument {:?}\n\n{USAGE}",
            arg.to_string_lossy()
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// dist

fn dist() -> CliResult<()> {
    let root = workspace_root()?;
    let target_dir = target_dir(&root)?;
    let versions = package_versions(&root)?;

    // (a) the wasm module, with the post-processor in the same cargo run
    let packages: Vec<&str> = EXTRA_MODULES
        .iter()
        .flat_map(|m| ["-p", m.package])
        .collect();
    let wasm_path = build_wasm(&root, &target_dir, &packages)?;

    // (b) post-process it
    let dist_dir = target_dir.join("dist");
    let dist_wasm = dist_dir.join("wasmcore.wasm");
    let manifest = process_file(
        &wasm_path,
        &dist_wasm,
        "wasmcore",
        Some(version_of(&versions, "wasmcore")?),
    )?;
    write(
        &dist_dir.join("wasmcore.abi.json"),
        manifest.pretty.as_bytes(),
    )?;

    // (b') the post-processor, post-processed the same way
    let raw_dir = target_dir.join(WASM_TARGET).join("release");
    for m in EXTRA_MODULES {
        let version = version_of(&versions, m.package)?;
        process_file(
            &raw_dir.join(format!("{}.wasm", m.module)),
            &dist_dir.join(m.dist),
            m.module,
            Some(version),
        )?;
    }

    // (c) the native library, with the same manifest beside it
    run_command(cargo(&root, &target_dir))?;
    let release = target_dir.join("release");
    write(
        &release.join("wasmcore.abi.json"),
        manifest.pretty.as_bytes(),
    )?;
    let library = ["libwasmcore.so", "libwasmcore.dylib", "wasmcore.dll"]
        .iter()
        .map(|name| release.join(name))
        .find(|path| path.is_file());
    match library {
        Some(lib) => {
            let size = fs::metadata(&lib).map(|m| m.len()).unwrap_or(0);
            println!(
                "{}: {size} bytes, manifest in {}",
                lib.display(),
                release.join("wasmcore.abi.json").display()
            );
        }
        None => println!(
            "warning: no native library found in {} (is wasmcore a cdylib?)",
            release.display()
        ),
    }
    Ok(())
}

/// A module `dist` builds for wasm beside the core.
struct ExtraModule {
    /// The cargo package.
    package: &'static str,
    /// Its lib name: the linked file's stem and the manifest's `"module"`.
    module: &'static str,
    /// Where the processed module goes, relative to `target/dist/`.
    dist: &'static str,
}

/// The post-processor (`crates/wasmcore-post`, run by the Python tool under wasmtime). The
/// example author projects (`examples/`) are built by the author workflow, `just examples`.
const EXTRA_MODULES: [ExtraModule; 1] = [ExtraModule {
    package: "wasmcore-post",
    module: "wasmcore_post",
    dist: "wasmcore-post.wasm",
}];

/// Post-processes the module at `input` into `output` (creating its directory) and reports
/// the sizes; returns the manifest.
fn process_file(
    input: &Path,
    output: &Path,
    module: &str,
    version: Option<&str>,
) -> CliResult<Manifest> {
    let wasm = read(input)?;
    let (out, manifest) =
        postprocess(&wasm, module, version).map_err(|e| format!("{}: {e}", input.display()))?;
    if let Some(dir) = output.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    write(output, &out)?;
    let manifest = Manifest::parse(&manifest)?;
    println!(
        "{}: {} -> {} bytes; module {module:?}{}, abi_version {}, {} functions",
        output.display(),
        wasm.len(),
        out.len(),
        version.map(|v| format!(" {v}")).unwrap_or_default(),
        manifest.abi_version,
        manifest.functions.len(),
    );
    Ok(manifest)
}

/// The version of every package of the workspace, by name (`cargo metadata`, so that
/// `version.workspace = true` is resolved as cargo resolves it).
fn package_versions(root: &Path) -> CliResult<BTreeMap<String, String>> {
    let mut cmd = cargo_command(root);
    cmd.args(["metadata", "--format-version", "1", "--no-deps"]);
    let shown = show_command(&cmd);
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{shown}` failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let metadata: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("`{shown}` printed invalid JSON: {e}"))?;
    let packages = metadata["packages"]
        .as_array()
        .ok_or_else(|| format!("`{shown}` lists no packages"))?;
    Ok(packages
        .iter()
        .filter_map(|p| {
            Some((
                p["name"].as_str()?.to_owned(),
                p["version"].as_str()?.to_owned(),
            ))
        })
        .collect())
}

fn version_of<'a>(versions: &'a BTreeMap<String, String>, package: &str) -> CliResult<&'a str> {
    versions
        .get(package)
        .map(String::as_str)
        .ok_or_else(|| format!("`cargo metadata` does not list the package {package:?}"))
}

// ---------------------------------------------------------------------------------------------
// web

/// Env var naming the `wasm-bindgen` CLI to run (default: `wasm-bindgen` on PATH).
const WASM_BINDGEN_VAR: &str = "WASM_BINDGEN";

fn web() -> CliResult<()> {
    let root = workspace_root()?;
    // Its own target directory: other features, so the dist build's artefacts stay as they are.
    let build_dir = target_dir(&root)?.join("web").join("build");

    let wasm = build_wasm(&root, &build_dir, &["--features", "web"])?;
    let out_dir = root.join("web").join("pkg");
    let program = env::var_os(WASM_BINDGEN_VAR).unwrap_or_else(|| "wasm-bindgen".into());
    let mut bindgen = Command::new(&program);
    bindgen
        .current_dir(&root)
        .args(["--target", "web", "--out-name", "wasmcore", "--out-dir"])
        .arg(&out_dir)
        .arg(&wasm);
    run_command(bindgen).map_err(|e| {
        format!(
            "{e}\n(wasm-bindgen-cli must be installed at the version of the wasm-bindgen crate \
             in Cargo.lock: run `just setup-web`, or set {WASM_BINDGEN_VAR})"
        )
    })?;
    let size = fs::metadata(out_dir.join("wasmcore_bg.wasm"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "{}: wasmcore.js + wasmcore_bg.wasm ({size} bytes)",
        out_dir.display()
    );
    Ok(())
}

/// Builds the core for [`WASM_TARGET`] (release, `extra` cargo arguments) into `target_dir`
/// by the route the toolchain allows, and returns the path of the linked module.
fn build_wasm(root: &Path, target_dir: &Path, extra: &[&str]) -> CliResult<PathBuf> {
    let route = WasmRoute::detect(root)?;
    println!("wasm build route: {}", route.describe());
    let mut build = cargo(root, target_dir);
    build.args(["--target", WASM_TARGET]).args(extra);
    route.configure(&mut build)?;
    run_command(build)?;
    Ok(target_dir
        .join(WASM_TARGET)
        .join("release")
        .join("wasmcore.wasm"))
}

/// How the wasm module is built.
enum WasmRoute {
    /// The active toolchain has the `wasm32-unknown-unknown` standard library (rustup).
    Installed,
    /// Debian's `rustc-web` toolchain (bin directory), building std from source.
    Web(PathBuf),
}

impl WasmRoute {
    fn detect(root: &Path) -> CliResult<WasmRoute> {
        let installed = sysroot(root)
            .is_some_and(|sysroot| sysroot.join("lib/rustlib").join(WASM_TARGET).is_dir());
        if installed {
            return Ok(WasmRoute::Installed);
        }
        if let Some(dir) = env::var_os(WEB_TOOLCHAIN_VAR) {
            let dir = PathBuf::from(dir);
            if !dir.join("rustc").is_file() {
                return Err(format!(
                    "{WEB_TOOLCHAIN_VAR}={} has no rustc (it must name the toolchain's bin \
                     directory)",
                    dir.display()
                ));
            }
            return Ok(WasmRoute::Web(dir));
        }
        let debian = Path::new("/usr/lib/rust-web/bin");
        if debian.join("rustc").is_file() {
            return Ok(WasmRoute::Web(debian.to_owned()));
        }
        if let Some(dir) = dpkg_web_toolchain() {
            return Ok(WasmRoute::Web(dir));
        }
        Err(format!(
            "no toolchain can build {WASM_TARGET}: the active rustc has no {WASM_TARGET} \
             standard library and no Debian rust-web toolchain was found (set \
             {WEB_TOOLCHAIN_VAR} to its bin directory); run `just setup`"
        ))
    }

    fn describe(&self) -> String {
        match self {
            WasmRoute::Installed => format!("installed {WASM_TARGET} standard library"),
            WasmRoute::Web(dir) => format!(
                "rust-web toolchain in {} (RUSTC_BOOTSTRAP=1, -Zbuild-std)",
                dir.display()
            ),
        }
    }

    fn configure(&self, cmd: &mut Command) -> CliResult<()> {
        let WasmRoute::Web(dir) = self else {
            return Ok(());
        };
        let mut path = vec![dir.clone()];
        if let Some(old) = env::var_os("PATH") {
            path.extend(env::split_paths(&old));
        }
        let path = env::join_paths(path).map_err(|e| format!("cannot extend PATH: {e}"))?;
        cmd.env("PATH", path)
            .env("RUSTC", dir.join("rustc"))
            .env("RUSTC_BOOTSTRAP", "1")
            .arg("-Zbuild-std=std,panic_abort");
        Ok(())
    }
}

/// `rustc --print sysroot` of the rustc cargo would use in the workspace.
fn sysroot(root: &Path) -> Option<PathBuf> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .current_dir(root)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    Some(PathBuf::from(text.trim()))
}

/// The bin directory of the `rustc-web` package, from `dpkg -L`.
fn dpkg_web_toolchain() -> Option<PathBuf> {
    let out = Command::new("dpkg")
        .args(["-L", "rustc-web"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .find(|line| line.ends_with("/bin/rustc"))
        .and_then(|rustc| Path::new(rustc).parent().map(Path::to_owned))
}

/// `cargo build --release --lib -p wasmcore` in the workspace, into `target_dir`.
fn cargo(root: &Path, target_dir: &Path) -> Command {
    let mut cmd = cargo_command(root);
    cmd.args([
        "build",
        "--release",
        "--lib",
        "-p",
        "wasmcore",
        "--target-dir",
    ])
    .arg(target_dir);
    cmd
}

/// The cargo that runs this xtask, in the workspace root.
fn cargo_command(root: &Path) -> Command {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root);
    cmd
}

fn run_command(mut cmd: Command) -> CliResult<()> {
    let shown = show_command(&cmd);
    println!("running: {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

fn show_command(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// The workspace root: the parent of this crate's directory.
fn workspace_root() -> CliResult<PathBuf> {
    let manifest_dir = env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .map(Path::to_owned)
        .ok_or_else(|| format!("{} has no parent directory", manifest_dir.display()))
}

/// `$CARGO_TARGET_DIR` (relative to the current directory, as cargo reads it) or `target/`.
fn target_dir(root: &Path) -> CliResult<PathBuf> {
    match env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                Ok(dir)
            } else {
                let cwd = env::current_dir()
                    .map_err(|e| format!("cannot read the current directory: {e}"))?;
                Ok(cwd.join(dir))
            }
        }
        None => Ok(root.join("target")),
    }
}

// ---------------------------------------------------------------------------------------------
// crates

/// The crates an author's build uses: they are published, and `crates` unpacks their
/// packaged sources (for the Python tool's wheel).
const PUBLISHED: [&str; 4] = [
    "wasmcore-schema",
    "wasmcore-macros",
    "wasmcore-abi",
    "wasmcore-post",
];

/// `cargo package` of [`PUBLISHED`] in one run (so that each is verified against the
/// others' packaged sources, which crates.io does not have yet), then each `.crate` unpacked
/// into `target/crates/<name>/`: the sources as published, with a normalized Cargo.toml (no
/// workspace inheritance, no paths), usable through `[patch.crates-io]`.
fn crates() -> CliResult<()> {
    let root = workspace_root()?;
    let target_dir = target_dir(&root)?;
    let versions = package_versions(&root)?;
    forget_stale(&target_dir, &versions)?;
    let mut package = cargo_command(&root);
    // --allow-dirty: the crates of the tree as it is (this builds artefacts, it publishes
    // nothing), committed or not.
    package.args(["package", "--allow-dirty", "--target-dir"]);
    package.arg(&target_dir);
    for name in PUBLISHED {
        package.args(["-p", name]);
    }
    run_command(package)?;

    let out_dir = target_dir.join("crates");
    for name in PUBLISHED {
        let stem = format!("{name}-{}", version_of(&versions, name)?);
        let file = target_dir.join("package").join(format!("{stem}.crate"));
        let dest = out_dir.join(name);
        if dest.exists() {
            fs::remove_dir_all(&dest)
                .map_err(|e| format!("cannot remove {}: {e}", dest.display()))?;
        }
        let files = unpack_crate(&file, &stem, &dest)?;
        println!("{}: {files} files from {}", dest.display(), file.display());
    }
    println!("for an author's Cargo.toml (until the crates are on crates.io):\n[patch.crates-io]");
    for name in PUBLISHED {
        println!("{name} = {{ path = \"{}\" }}", out_dir.join(name).display());
    }
    Ok(())
}

/// Removes what cargo kept of [`PUBLISHED`] from earlier runs of [`crates`]. `cargo package`
/// verifies each crate against the others through a local registry
/// (`target/package/tmp-registry`): it extracts them to `$CARGO_HOME/registry/src/-<hash of
/// that registry>/<name>-<version>` and builds them in `target/debug`, and it refreshes neither
/// (a registry's crate of a given version never changes): with the version unchanged, a later
/// run would verify (and fail) against the crates as they were then. The workspace's own
/// builds of them are rebuilt (small crates: seconds).
fn forget_stale(target_dir: &Path, versions: &BTreeMap<String, String>) -> CliResult<()> {
    let fingerprints = target_dir.join("debug").join(".fingerprint");
    if let Ok(entries) = fs::read_dir(&fingerprints) {
        for entry in entries.flatten() {
            let file = entry.file_name();
            let file = file.to_string_lossy();
            let ours = PUBLISHED.iter().any(|name| {
                file.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|hash| hash.chars().all(|c| c.is_ascii_hexdigit()))
            });
            if ours {
                fs::remove_dir_all(entry.path())
                    .map_err(|e| format!("cannot remove {}: {e}", entry.path().display()))?;
            }
        }
    }
    let home = match env::var_os("CARGO_HOME") {
        Some(h) => PathBuf::from(h),
        None => match env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(".cargo"),
            None => return Ok(()),
        },
    };
    let Ok(registries) = fs::read_dir(home.join("registry").join("src")) else {
        return Ok(()); // (nothing extracted yet)
    };
    for registry in registries.flatten() {
        // (only unnamed local registries: crates.io's is index.crates.io-<hash>)
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for name in PUBLISHED {
            let dir = registry
                .path()
                .join(format!("{name}-{}", version_of(versions, name)?));
            if dir.exists() {
                fs::remove_dir_all(&dir)
                    .map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
            }
        }
    }
    Ok(())
}

/// Unpacks the `.crate` (a gzipped tar whose entries all sit under `<stem>/`) at `file`
/// into `dest`, without the `<stem>/` prefix; returns the number of files.
fn unpack_crate(file: &Path, stem: &str, dest: &Path) -> CliResult<usize> {
    let bad = |e: std::io::Error| format!("cannot unpack {}: {e}", file.display());
    let gz = fs::File::open(file).map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gz));
    let mut files = 0;
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.into_owned();
        let relative = path
            .strip_prefix(stem)
            .ok()
            .filter(|r| r.components().all(|c| matches!(c, Component::Normal(_))))
            .ok_or_else(|| {
                format!(
                    "{}: entry {} is not inside {stem}/",
                    file.display(),
                    path.display()
                )
            })?;
        let target = dest.join(relative);
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        entry.unpack(&target).map_err(bad)?;
        files += usize::from(entry.header().entry_type().is_file());
    }
    Ok(files)
}

// ---------------------------------------------------------------------------------------------
// postprocess / manifest

fn postprocess_cmd(args: &[OsString]) -> CliResult<()> {
    let mut paths = Vec::new();
    let mut module = None;
    let mut version = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if let Some(name) = option_value(arg, "--module", &mut args)? {
            module = Some(name);
        } else if let Some(v) = option_value(arg, "--version", &mut args)? {
            version = Some(v);
        } else {
            paths.push(PathBuf::from(arg));
        }
    }
    let [input, output] = paths.as_slice() else {
        return Err(format!(
            "`postprocess` takes IN.wasm OUT.wasm [--module NAME] [--version VERSION]\n\n{USAGE}"
        ));
    };
    let module = match module {
        Some(m) => m,
        None => {
            let stem = input
                .file_stem()
                .ok_or_else(|| format!("{} has no file name", input.display()))?;
            utf8(stem, "the input file name")?.to_owned()
        }
    };
    let manifest = process_file(input, output, &module, version.as_deref())?;
    if !manifest.functions.is_empty() {
        println!("functions: {}", manifest.functions.join(", "));
    }
    Ok(())
}

/// The value of option `name` when `arg` is `name VALUE` (taking VALUE from `rest`) or
/// `name=VALUE`; `None` when `arg` is something else.
fn option_value<'a>(
    arg: &OsStr,
    name: &str,
    rest: &mut impl Iterator<Item = &'a OsString>,
) -> CliResult<Option<String>> {
    let value = if arg == name {
        let value = rest.next().ok_or_else(|| format!("{name} needs a value"))?;
        utf8(value, name)?
    } else {
        match arg
            .to_str()
            .and_then(|a| a.strip_prefix(name)?.strip_prefix('='))
        {
            Some(value) => value,
            None => return Ok(None),
        }
    };
    Ok(Some(value.to_owned()))
}

fn manifest_cmd(file: &Path) -> CliResult<()> {
    let wasm = read(file)?;
    let manifest = read_manifest(&wasm)
        .map_err(|e| format!("{}: {e}", file.display()))?
        .ok_or_else(|| {
            format!(
                "{} has no {} section (run `cargo xtask postprocess` on it first)",
                file.display(),
                wasmcore_schema::MANIFEST_SECTION
            )
        })?;
    let pretty = Manifest::parse(&manifest)?.pretty;
    // a closed pipe (`| head`) is not an error worth a panic
    let _ = writeln!(std::io::stdout(), "{pretty}");
    Ok(())
}

/// What the CLI reports about a manifest.
struct Manifest {
    pretty: String,
    abi_version: u64,
    functions: Vec<String>,
}

impl Manifest {
    fn parse(json: &str) -> CliResult<Manifest> {
        let bad = |e: String| format!("malformed manifest: {e}");
        let value: Value = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        let pretty = serde_json::to_string_pretty(&value).map_err(|e| bad(e.to_string()))?;
        let abi_version = value["abi_version"].as_u64().unwrap_or(0);
        let functions = value["functions"]
            .as_array()
            .map(|fs| {
                fs.iter()
                    .filter_map(|f| f["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Manifest {
            pretty,
            abi_version,
            functions,
        })
    }
}

fn utf8<'a>(s: &'a OsStr, what: &str) -> CliResult<&'a str> {
    s.to_str()
        .ok_or_else(|| format!("{what} is not UTF-8: {}", s.to_string_lossy()))
}

fn read(path: &Path) -> CliResult<Vec<u8>> {
    fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn write(path: &Path, data: &[u8]) -> CliResult<()> {
    fs::write(path, data).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
