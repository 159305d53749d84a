//! The workspace's dependency rules: dependencies point one way, toward the core types.
//! Fails when a crate gains a forbidden dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

fn workspace_deps() -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

#[test]
fn dependencies_point_toward_the_core() {
    let deps = workspace_deps();
    let forbidden: &[(&str, &[&str])] = &[
        // Wire types are pure data.
        (
            "berth-api-types",
            &[
                "tokio",
                "hyper",
                "berth-errdefs",
                "berth-engine",
                "berth-image",
                "berth-api-server",
                "rustix",
                "nix",
            ],
        ),
        // The HTTP layer knows nothing of the engine or the kernel.
        (
            "berth-api-server",
            &[
                "berth-engine",
                "berth-image",
                "berth-archive",
                "berth-network",
                "berth-dns",
                "rustix",
                "nix",
                "libcontainer",
            ],
        ),
        // The engine knows nothing of HTTP or the wire format.
        (
            "berth-engine",
            &[
                "berth-api-types",
                "berth-api-server",
                "hyper",
                "hyper-util",
                "http",
                "axum",
            ],
        ),
        (
            "berth-image",
            &[
                "berth-api-types",
                "berth-api-server",
                "berth-engine",
                "hyper",
                "tokio",
            ],
        ),
        (
            "berth-archive",
            &[
                "berth-api-types",
                "berth-api-server",
                "berth-engine",
                "berth-image",
                "hyper",
                "tokio",
            ],
        ),
        // Networking is a subsystem the engine uses: no HTTP, no engine, no runtime.
        (
            "berth-network",
            &[
                "berth-api-types",
                "berth-api-server",
                "berth-engine",
                "berth-runtime",
                "berth-image",
                "hyper",
                "http",
                "libcontainer",
            ],
        ),
        // Name resolution serves a table of names: no HTTP, no engine, no images, no runtime,
        // no bridges (berthd's engine publishes the table; the resolver knows nothing else).
        (
            "berth-dns",
            &[
                "berth-api-types",
                "berth-api-server",
                "berth-engine",
                "berth-image",
                "berth-runtime",
                "berth-network",
                "hyper",
                "http",
                "libcontainer",
            ],
        ),
        // The builder knows Dockerfiles and configs: no HTTP, no engine, no kernel.
        (
            "berth-builder",
            &[
                "berth-api-server",
                "berth-engine",
                "berth-image",
                "berth-runtime",
                "berth-snapshot",
                "hyper",
                "tokio",
                "rustix",
                "nix",
                "libcontainer",
            ],
        ),
        // Snapshots are mounts and directories: no HTTP, no engine, no images, no runtime.
        (
            "berth-snapshot",
            &[
                "berth-api-types",
                "berth-api-server",
                "berth-engine",
                "berth-image",
                "berth-runtime",
                "hyper",
                "tokio",
                "libcontainer",
            ],
        ),
        // The registry side of images: no engine, no Engine API, no kernel.
        (
            "berth-distribution",
            &[
                "berth-api-types",
                "berth-api-server",
                "berth-engine",
                "berth-runtime",
                "berth-snapshot",
                "berth-network",
                "rustix",
                "nix",
                "libcontainer",
            ],
        ),
        // How Go prints values: a leaf every layer may use.
        (
            "berth-gofmt",
            &[
                "berth-errdefs",
                "berth-api-types",
                "berth-api-server",
                "berth-engine",
                "berth-image",
                "tokio",
            ],
        ),
        (
            "berth-errdefs",
            &[
                "berth-api-types",
                "berth-api-server",
                "berth-engine",
                "berth-image",
                "berth-archive",
            ],
        ),
    ];
    let mut violations = Vec::new();
    for (krate, banned) in forbidden {
        let have = deps
            .get(*krate)
            .unwrap_or_else(|| panic!("crate {krate} is missing from the workspace"));
        for b in *banned {
            if have.contains(*b) {
                violations.push(format!("{krate} depends on {b}"));
            }
        }
    }
    // Only the daemon binary sees both sides.
    for (krate, have) in &deps {
        if krate != "berthd" && have.contains("berth-api-server") && have.contains("berth-engine") {
            violations.push(format!(
                "{krate} depends on both the API server and the engine"
            ));
        }
    }
    assert!(
        violations.is_empty(),
        "forbidden dependencies:\n{}",
        violations.join("\n")
    );
}

/// The engine's public API speaks its own types: loose JSON (`serde_json::Value`) appears in
/// no public signature, field or alias of the engine crate (wire shapes belong to berthd and
/// the API crates; the engine's callers should not have to guess what a value holds).
#[test]
fn the_engine_api_has_no_loose_json() {
    use syn::visit::Visit;

    struct PublicTypes<'a> {
        file: &'a str,
        loose_value: bool,
        found: Vec<String>,
    }
    impl PublicTypes<'_> {
        fn check(&mut self, what: &str, tokens: String) {
            let t = tokens.replace(' ', "");
            if t.contains("serde_json::Value")
                || t.contains("serde_json::Map")
                || (self.loose_value
                    && t.split(|c: char| !c.is_alphanumeric() && c != '_')
                        .any(|w| w == "Value"))
            {
                self.found.push(format!("{}: {what}: {t}", self.file));
            }
        }
    }
    fn public(v: &syn::Visibility) -> bool {
        matches!(v, syn::Visibility::Public(_))
    }
    impl<'ast> Visit<'ast> for PublicTypes<'_> {
        fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
            if public(&f.vis) {
                self.check(&f.sig.ident.to_string(), quote_sig(&f.sig));
            }
        }
        fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
            if public(&f.vis) {
                self.check(&f.sig.ident.to_string(), quote_sig(&f.sig));
            }
        }
        fn visit_item_struct(&mut self, s: &'ast syn::ItemStruct) {
            if public(&s.vis) {
                for f in &s.fields {
                    if public(&f.vis) {
                        let ty = &f.ty;
                        self.check(&s.ident.to_string(), quote::quote!(#ty).to_string());
                    }
                }
            }
        }
        fn visit_item_enum(&mut self, e: &'ast syn::ItemEnum) {
            if public(&e.vis) {
                for v in &e.variants {
                    let fields = &v.fields;
                    self.check(&e.ident.to_string(), quote::quote!(#fields).to_string());
                }
            }
        }
        fn visit_item_type(&mut self, t: &'ast syn::ItemType) {
            if public(&t.vis) {
                let ty = &t.ty;
                self.check(&t.ident.to_string(), quote::quote!(#ty).to_string());
            }
        }
        fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
            // Tests are not API.
            if !m
                .attrs
                .iter()
                .any(|a| quote::quote!(#a).to_string().contains("test"))
            {
                syn::visit::visit_item_mod(self, m);
            }
        }
    }
    fn quote_sig(sig: &syn::Signature) -> String {
        quote::quote!(#sig).to_string()
    }
    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/engine/src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 20, "the engine's sources are where they were");
    let mut found = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path.strip_prefix(&root).unwrap().display().to_string();
        let mut v = PublicTypes {
            file: &name,
            loose_value: text.contains("use serde_json::Value")
                || text.contains("use serde_json::{"),
            found: Vec::new(),
        };
        v.visit_file(&file);
        found.extend(v.found);
    }
    assert!(
        found.is_empty(),
        "loose JSON in the engine's public API:\n{}",
        found.join("\n")
    );
}
