//! The module structure the design asks for, checked on the source text: the driver never
//! reaches the model of Windows (src/model, src/sim), the model reaches nothing of the
//! driver but the ABI (src/ks), and the driver's layers import only downwards
//! (avstream → property → allocator → framing → ks/kernel), so the allocator knows no pin.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The top-level modules a file names as `crate::<module>` (comments included: a doc link
/// to a module above is a dependency of the reader's understanding too, and forbidden
/// for the same reason).
fn crate_modules(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let before = text[..i].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `ksframe::...` paths end in "crate::" only as part of a word
        }
        let rest = &text[i + "crate::".len()..];
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

/// The layer a source file belongs to.
fn layer(src: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

#[test]
fn layers_import_only_downwards_and_the_model_stays_apart() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    // What each layer may name; `log` is the kernel's logging macro.
    let allowed = |layer: &str| -> &'static [&'static str] {
        match layer {
            "ks" => &["ks"],
            "kernel" => &["ks", "kernel", "log"],
            "framing" => &["ks", "kernel", "framing"],
            "allocator" => &["ks", "kernel", "framing", "allocator", "log"],
            "pacing" => &["ks", "kernel", "pacing"],
            "pin" => &["ks", "kernel", "framing", "allocator", "pacing", "pin"],
            "property" => &["ks", "kernel", "framing", "allocator", "pacing", "pin", "property", "log"],
            "avstream" => &[
                "ks",
                "kernel",
                "framing",
                "allocator",
                "pacing",
                "pin",
                "property",
                "avstream",
                "hosting",
                "log",
            ],
            "hosting" | "driver" => &["ks", "kernel", "avstream", "hosting", "log"],
            "lib" => &["ks"],
            // The model of Windows: the ABI and itself, nothing of the driver.
            "model" => &["ks", "model"],
            // The simulator runs the model against the driver's descriptors; it may look
            // at the driver's state for tests, and uses the host kernel's bags and stream
            // pointers.
            "sim" => &["ks", "model", "sim", "kernel", "pin"],
            other => panic!("unknown layer {other}"),
        }
    };
    let mut problems = Vec::new();
    for file in files(&src) {
        let layer = layer(&src, &file);
        let text = std::fs::read_to_string(&file).unwrap();
        for module in crate_modules(&text) {
            if !allowed(&layer).contains(&module.as_str()) {
                problems.push(format!("{}: {layer} names crate::{module}", file.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_check_sees_a_forbidden_import() {
    assert!(crate_modules("use crate::pin::PinState;").contains("pin"));
    assert!(crate_modules("let x = crate::model::property::lookup(..);").contains("model"));
    assert!(!crate_modules("use ksframe::pin::PinState;").contains("pin"));
}
