//! Restoring drifted files from the contract's source: the content, mode and owner come back,
//! the drifted copy is kept, and nothing is written when the source does not match the contract.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use tripline_drift::collect::{collect, Options};
use tripline_drift::compare::{compare, Change};
use tripline_drift::learn::{keep_sources, learn};
use tripline_drift::restore::restore;
use tripline_drift::Contract;

fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A root with accounts, an sshd config (0600) and a model file; a contract learned on it with
/// kept sources, saved beside it.
fn learned(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, Contract) {
    let root = dir.join("root");
    write(
        &root,
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000:app:/home/app:/bin/bash\n",
    );
    write(&root, "/etc/group", "root:x:0:\napp:x:1000:\n");
    write(
        &root,
        "/etc/ssh/sshd_config",
        "PermitRootLogin no\nPasswordAuthentication no\n",
    );
    std::fs::set_permissions(
        root.join("etc/ssh/sshd_config"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    write(&root, "/opt/models/m.gguf", "weights v1");
    let opts = Options {
        root: root.clone(),
        include: vec!["/etc/ssh/**".into(), "/opt/models/**".into()],
        ..Options::default()
    };
    let mut c = learn(&collect(&opts), "web-1", &opts.include);
    let kept = keep_sources(&mut c, &root, &dir.join("sources")).unwrap();
    assert_eq!(kept, 2);
    let path = dir.join("contract.yaml");
    std::fs::write(&path, c.to_yaml()).unwrap();
    (
        root,
        path,
        Contract::load(&dir.join("contract.yaml")).unwrap(),
    )
}

fn drift(root: &Path, c: &Contract) -> Vec<tripline_drift::compare::Finding> {
    let opts = Options {
        root: root.to_path_buf(),
        include: c.spec.watch.clone(),
        ..Options::default()
    };
    compare(c, &collect(&opts))
}

#[test]
fn a_changed_file_comes_back_with_its_mode_and_the_drifted_copy_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (root, path, c) = learned(dir.path());
    let sshd = root.join("etc/ssh/sshd_config");
    std::fs::write(&sshd, "PermitRootLogin yes\n").unwrap();
    std::fs::set_permissions(&sshd, std::fs::Permissions::from_mode(0o666)).unwrap();
    let f = drift(&root, &c);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].change, f[0].item.as_str()),
        (Change::Changed, "/etc/ssh/sshd_config")
    );

    let quarantine = dir.path().join("q");
    let r = restore(&c, &path, "/etc/ssh/sshd_config", &root, &quarantine).unwrap();
    assert_eq!(
        std::fs::read_to_string(&sshd).unwrap(),
        "PermitRootLogin no\nPasswordAuthentication no\n"
    );
    assert_eq!(std::fs::metadata(&sshd).unwrap().mode() & 0o7777, 0o600);
    let backup = r.backup.unwrap();
    assert_eq!(
        std::fs::read_to_string(&backup).unwrap(),
        "PermitRootLogin yes\n"
    );
    assert!(backup.starts_with(&quarantine));
    assert!(drift(&root, &c).is_empty(), "clean after the restore");
}

#[test]
fn a_deleted_file_comes_back_and_a_planted_symlink_is_replaced_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let (root, path, c) = learned(dir.path());
    let model = root.join("opt/models/m.gguf");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::write(&elsewhere, "untouched").unwrap();
    std::fs::remove_file(&model).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &model).unwrap();
    let r = restore(
        &c,
        &path,
        "/opt/models/m.gguf",
        &root,
        &dir.path().join("q"),
    )
    .unwrap();
    assert_eq!(
        r.backup, None,
        "a symlink is not a drifted copy of the file"
    );
    assert!(!std::fs::symlink_metadata(&model)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&model).unwrap(), "weights v1");
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "untouched");

    std::fs::remove_file(&model).unwrap();
    restore(
        &c,
        &path,
        "/opt/models/m.gguf",
        &root,
        &dir.path().join("q"),
    )
    .unwrap();
    assert!(drift(&root, &c).is_empty());
}

#[test]
fn nothing_is_written_when_the_source_is_wrong_or_missing() {
    let dir = tempfile::tempdir().unwrap();
    let (root, path, c) = learned(dir.path());
    let sshd = root.join("etc/ssh/sshd_config");
    std::fs::write(&sshd, "PermitRootLogin yes\n").unwrap();
    // Someone altered the kept copy: its hash no longer matches the contract.
    let source = c
        .spec
        .files
        .as_ref()
        .unwrap()
        .iter()
        .find(|f| f.path == "/etc/ssh/sshd_config")
        .unwrap()
        .source
        .clone()
        .unwrap();
    std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&source, "PermitRootLogin yes\n# tampered\n").unwrap();
    let e = restore(
        &c,
        &path,
        "/etc/ssh/sshd_config",
        &root,
        &dir.path().join("q"),
    )
    .unwrap_err();
    assert!(e.contains("but the contract declares"), "{e}");
    assert_eq!(
        std::fs::read_to_string(&sshd).unwrap(),
        "PermitRootLogin yes\n"
    );
    assert!(
        !dir.path().join("q").exists(),
        "no backup without a restore"
    );

    let e = restore(&c, &path, "/etc/ssh/**", &root, &dir.path().join("q")).unwrap_err();
    assert!(e.contains("no files entry for /etc/ssh/**"), "{e}");
    let mut no_source = c.clone();
    for f in no_source.spec.files.iter_mut().flatten() {
        f.source = None;
    }
    let e = restore(
        &no_source,
        &path,
        "/opt/models/m.gguf",
        &root,
        &dir.path().join("q"),
    )
    .unwrap_err();
    assert!(e.contains("has no `source:`"), "{e}");
}
