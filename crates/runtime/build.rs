//! Builds berth's container init (`init/main.rs`) as a static executable, so it runs in any
//! image whatever libc the image has; the runtime embeds it (`berth_runtime::init`).
//! Compiled with the same `rustc` cargo uses, with flags of its own (cargo cannot give one
//! binary of a workspace static linking).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=init/main.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("berth-init");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let status = Command::new(rustc)
        .args([
            "--edition=2021",
            "--crate-name=berth_init",
            "-C",
            "opt-level=s",
            "-C",
            "panic=abort",
            "-C",
            "strip=symbols",
            "-C",
            "target-feature=+crt-static",
            "-o",
        ])
        .arg(&out)
        .arg("init/main.rs")
        .status()
        .expect("run rustc for the container init");
    assert!(status.success(), "building the container init failed");
    // A name for this build of it, so the daemon knows at start whether the copy on disk is
    // this one without reading it.
    let bytes = std::fs::read(&out).expect("read the built init");
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&bytes, &mut hasher);
    println!(
        "cargo:rustc-env=BERTH_INIT_ID={:016x}",
        std::hash::Hasher::finish(&hasher)
    );
}
