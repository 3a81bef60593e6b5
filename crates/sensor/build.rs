//! Compiles the kernel programs in `bpf/` with clang into `$OUT_DIR/sensor.bpf.o`.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".to_string());
    for f in ["bpf/sensor.bpf.c", "bpf/wire.h", "bpf/vmlinux.h"] {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-env-changed=CLANG");
    // The decoder checks at compile time that it reads the layout this header version names.
    let header = std::fs::read_to_string("bpf/wire.h").expect("bpf/wire.h");
    let version = header
        .lines()
        .find_map(|l| l.strip_prefix("#define TL_WIRE_VERSION "))
        .map(str::trim)
        .expect("bpf/wire.h defines TL_WIRE_VERSION");
    println!("cargo:rustc-env=TL_WIRE_VERSION={version}");
    let obj = out.join("sensor.bpf.o");
    let status = Command::new(&clang)
        .args([
            "-g",
            "-O2",
            "-target",
            "bpf",
            "-D__TARGET_ARCH_x86",
            "-Wall",
            "-Werror",
        ])
        .args([
            "-Wno-unused-function",
            "-Ibpf",
            "-c",
            "bpf/sensor.bpf.c",
            "-o",
        ])
        .arg(&obj)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("clang failed to compile bpf/sensor.bpf.c ({s}); see the errors above"),
        Err(e) => panic!(
            "tripline-sensor needs clang and libbpf headers to build its eBPF programs \
             ({clang}: {e}). On Debian: apt-get install -y clang libbpf-dev"
        ),
    }
}
