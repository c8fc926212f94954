// SPDX-License-Identifier: GPL-2.0

//! Runs bindgen on the C handover ABI header, so that `tests/layout.rs` can
//! prove the C and Rust layouts agree. Needs the bindgen CLI and libclang
//! that `scripts/deps` installs (found through `PATH` and `LIBCLANG_PATH`,
//! or under `$PCI_LU_CACHE/tools`).

use std::path::PathBuf;
use std::process::Command;
use std::{env, fs};

// Just enough of the kernel's headers for the ABI header to parse alone.
const STUBS: &[(&str, &str)] = &[
    (
        "linux/build_bug.h",
        "#define static_assert _Static_assert\n",
    ),
    (
        "linux/stddef.h",
        "#define offsetof(t, m) __builtin_offsetof(t, m)\n",
    ),
    (
        "linux/types.h",
        "typedef unsigned char u8;\ntypedef unsigned short __le16;\n\
         typedef unsigned int __le32;\ntypedef unsigned long long __le64;\n\
         #define __packed __attribute__((packed))\n",
    ),
];

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("..");
    let header = root.join("include/kho_abi/pci.h");
    println!("cargo:rerun-if-changed={}", header.display());
    println!("cargo:rerun-if-env-changed=PCI_LU_CACHE");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let inc = out.join("stub-include");
    for (name, text) in STUBS {
        let p = inc.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    let cache = env::var("PCI_LU_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env::var("HOME").unwrap_or_default()).join(".cache/pci-liveupdate")
        });
    let tools = cache.join("tools");
    let mut bindgen = tools.join("cargo/bin/bindgen");
    if !bindgen.exists() {
        bindgen = PathBuf::from("bindgen");
    }
    let libclang = env::var("LIBCLANG_PATH").unwrap_or_else(|_| {
        tools
            .join("libclang/lib/python3/site-packages/clang/native")
            .display()
            .to_string()
    });
    let result = Command::new(&bindgen)
        .env("LIBCLANG_PATH", &libclang)
        .arg(&header)
        .args(["--use-core", "--no-doc-comments", "-o"])
        .arg(out.join("c_abi.rs"))
        .arg("--")
        .arg(format!("-I{}", inc.display()))
        .status();
    match result {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("bindgen failed on {} ({s})", header.display()),
        Err(e) => panic!(
            "cannot run {} ({e}): install bindgen and libclang with `make deps`",
            bindgen.display()
        ),
    }
}
