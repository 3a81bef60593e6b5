//! The record layout the Rust decoder reads agrees with `bpf/wire.h`: a small C program,
//! compiled by the host compiler from the same header, prints `offsetof` and `sizeof` of every
//! field; each must equal the decoder's constant of the same name.

use std::process::Command;

use tripline_sensor::wire::layout;

#[test]
fn every_offset_the_decoder_reads_matches_the_c_header() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include <linux/types.h>\n#include \"wire.h\"\nint main(void) {\n",
    );
    c.push_str("printf(\"TL_WIRE_VERSION %d\\n\", TL_WIRE_VERSION);\n");
    for (name, _) in layout::ALL {
        let expr = match name.strip_prefix("SIZEOF_") {
            Some(s) => format!("sizeof(struct {})", s.to_ascii_lowercase()),
            None => {
                // TL_EXEC_START_BOOT_NS -> struct tl_exec, field start_boot_ns.
                let lower = name.to_ascii_lowercase();
                let (st, field) = ["tl_header_", "tl_sock_", "tl_exec_", "tl_fork_"]
                    .iter()
                    .find_map(|p| lower.strip_prefix(p).map(|f| (&p[..p.len() - 1], f)))
                    .unwrap_or_else(|| panic!("{name}: unknown struct"));
                format!("offsetof(struct {st}, {field})")
            }
        };
        c.push_str(&format!("printf(\"{name} %zu\\n\", (size_t){expr});\n"));
    }
    c.push_str("return 0;\n}\n");
    let src = dir.path().join("layout.c");
    std::fs::write(&src, c).unwrap();
    let bin = dir.path().join("layout");
    let bpf = concat!(env!("CARGO_MANIFEST_DIR"), "/bpf");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-I", bpf, "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("{cc}: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = Command::new(&bin).output().unwrap();
    let printed = String::from_utf8(printed.stdout).unwrap();
    let c_side: std::collections::BTreeMap<&str, usize> = printed
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(' ').unwrap();
            (k, v.parse().unwrap())
        })
        .collect();
    assert_eq!(
        c_side["TL_WIRE_VERSION"],
        tripline_sensor::wire::WIRE_VERSION as usize
    );
    let mismatched: Vec<String> = layout::ALL
        .iter()
        .filter(|(name, off)| c_side[name] != *off)
        .map(|(name, off)| format!("{name}: Rust {off}, C {}", c_side[name]))
        .collect();
    assert!(mismatched.is_empty(), "{mismatched:#?}");
    assert_eq!(layout::SIZEOF_TL_HEADER, tripline_sensor::wire::HEADER_LEN);
}
