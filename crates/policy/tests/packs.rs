//! The default pack on real-format inputs: Pod Security Standards on workloads and the host
//! baseline on a snapshot of a prepared root.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;
use tripline_policy::PolicySet;

fn msgs(v: &[tripline_policy::Violation], package: &str) -> Vec<String> {
    v.iter()
        .filter(|x| x.package == package)
        .map(|x| x.msg.clone())
        .collect()
}

#[test]
fn pod_security_standards() {
    let risky = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": {"spec": {
            "hostNetwork": true,
            "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
            "containers": [{
                "name": "web", "image": "nginx:1.27",
                "ports": [{"containerPort": 80, "hostPort": 80}],
                "securityContext": {"privileged": true, "capabilities": {"add": ["SYS_ADMIN"]}, "runAsUser": 0}
            }]
        }}}
    });
    let hardened = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "api", "namespace": "shop"},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": [{"name": "cfg", "configMap": {"name": "api"}}],
            "containers": [{
                "name": "api", "image": "api@sha256:0123",
                "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}
            }]
        }
    });
    let mut set = PolicySet::default_pack();
    let v = set
        .eval_objects(&[("risky".into(), risky), ("hardened".into(), hardened)])
        .unwrap();
    let baseline = msgs(&v, "tripline.kubernetes.pss.baseline");
    for want in [
        "Deployment shop/web: host namespace hostNetwork",
        "Deployment shop/web: container web is privileged",
        "Deployment shop/web: hostPath volume root",
        "Deployment shop/web: container web uses host port 80",
        "Deployment shop/web: container web adds capability SYS_ADMIN",
    ] {
        assert!(
            baseline.contains(&want.to_string()),
            "{want}: {baseline:#?}"
        );
    }
    assert_eq!(baseline.len(), 5, "{baseline:#?}");
    let restricted = msgs(&v, "tripline.kubernetes.pss.restricted");
    assert!(
        restricted
            .iter()
            .all(|m| m.starts_with("Deployment shop/web")),
        "{restricted:#?}"
    );
    for want in [
        "Deployment shop/web: container web runs as uid 0",
        "Deployment shop/web: container web allows privilege escalation",
        "Deployment shop/web: container web does not drop ALL capabilities",
        "Deployment shop/web: volume root is of a restricted type",
    ] {
        assert!(
            restricted.contains(&want.to_string()),
            "{want}: {restricted:#?}"
        );
    }
}

#[test]
fn host_baseline_on_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |p: &str, t: &str| {
        let p = root.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, t).unwrap();
    };
    write(
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\n",
    );
    write("etc/group", "root:x:0:\n");
    write(
        "etc/ssh/sshd_config",
        "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\n",
    );
    write(
        "etc/ssh/sshd_config.d/50-cloud.conf",
        "PermitRootLogin yes\nPasswordAuthentication yes\n",
    );
    write("usr/bin/passwd", "x");
    write("usr/bin/.x", "x");
    write("usr/bin/tool", "x");
    std::fs::set_permissions(
        root.join("usr/bin/passwd"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    std::fs::set_permissions(
        root.join("usr/bin/.x"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    std::fs::set_permissions(
        root.join("usr/bin/tool"),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    let snap = tripline_drift::collect::collect(&tripline_drift::collect::Options {
        root: root.to_path_buf(),
        include: vec!["/usr/bin/*".into()],
        ..Default::default()
    });
    // sshd keeps the first value: the drop-in wins over the main file.
    assert_eq!(
        snap.sshd.get("permitrootlogin").map(String::as_str),
        Some("yes")
    );
    let mut set = PolicySet::default_pack();
    let v = set
        .eval_snapshot(&serde_json::to_value(&snap).unwrap(), "snapshot")
        .unwrap();
    let mut host = msgs(&v, "tripline.host.baseline");
    host.sort();
    assert_eq!(
        host,
        [
            "account toor has uid 0",
            "sshd permits password authentication",
            "sshd permits root login (PermitRootLogin yes)",
            "unexpected setuid/setgid file /usr/bin/.x (mode 4755)",
            "world-writable file in PATH: /usr/bin/tool (mode 0777)",
        ]
    );
    let critical = v.iter().find(|x| x.msg.contains("toor")).unwrap();
    assert_eq!(critical.severity, "critical");
    // The same set, asked for an object next: the Kubernetes packages run (the snapshot's
    // scope left them out), and the snapshot again gives the same results.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"},
        "spec": {"containers": [{"name": "c", "image": "nginx", "securityContext": {"privileged": true}}]}});
    let on_pod = set.eval_input(&pod, "pod").unwrap();
    assert!(
        on_pod
            .iter()
            .any(|x| x.msg == "Pod shop/p: container c is privileged"),
        "{on_pod:#?}"
    );
    let again = set
        .eval_snapshot(&serde_json::to_value(&snap).unwrap(), "snapshot")
        .unwrap();
    assert_eq!(again, v);
}

/// The RVM and the interpreter agree, on the shipped pack and on user policies in both syntaxes.
#[test]
fn rvm_and_interpreter_agree() {
    let objects: Vec<(String, serde_json::Value)> = (0..40)
        .map(|i| {
            let privileged = i % 3 == 0;
            let o = json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": format!("web-{i}"), "namespace": "shop"},
                "spec": {"template": {"spec": {"containers": [{
                    "name": "web", "image": "nginx:1.27",
                    "securityContext": {"privileged": privileged, "runAsUser": i % 2}
                }]}}}
            });
            (format!("web-{i}"), o)
        })
        .collect();
    let mut vm = PolicySet::default_pack();
    assert_eq!(vm.engine_name().unwrap(), "rvm");
    let mut interp = PolicySet::default_pack().interpreter_only(true);
    assert_eq!(interp.engine_name().unwrap(), "interpreter");
    let a = vm.eval_objects(&objects).unwrap();
    let b = interp.eval_objects(&objects).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        msgs(&a, "tripline.kubernetes.pss.baseline").len(),
        14,
        "privileged: 0, 3, ..., 39"
    );

    for (v0, text) in [
        (true, "package user\ndeny[msg] { input.spec.replicas > 3; msg := sprintf(\"%v replicas\", [input.spec.replicas]) }\nwarn[\"always\"] { true }"),
        (false, "package user\nimport rego.v1\nviolation contains {\"msg\": \"too many\"} if input.spec.replicas > 3"),
    ] {
        let mut vm = PolicySet::new(v0);
        vm.add("user.rego", text).unwrap();
        assert_eq!(vm.engine_name().unwrap(), "rvm", "v0: {v0}");
        let mut interp = PolicySet::new(v0).interpreter_only(true);
        interp.add("user.rego", text).unwrap();
        let input = json!({"kind": "Deployment", "spec": {"replicas": 5}});
        let a = vm.eval_input(&input, "d").unwrap();
        assert_eq!(a, interp.eval_input(&input, "d").unwrap());
        assert!(a.iter().any(|v| v.rule != "warn" && v.msg.contains("5 replicas") || v.msg == "too many"), "{a:#?}");
    }
}

/// A package's `tripline_kinds` limits it to those kinds; packages without one see everything.
#[test]
fn tripline_kinds_route_objects_to_packages() {
    let mut set = PolicySet::new(false);
    set.add(
        "pods.rego",
        "package pods\nimport rego.v1\ntripline_kinds := {\"Pod\"}\ndeny contains sprintf(\"pod check on %s\", [input.kind]) if true",
    )
    .unwrap();
    set.add(
        "all.rego",
        "package all\nimport rego.v1\nwarn contains sprintf(\"seen %s\", [input.kind]) if true",
    )
    .unwrap();
    let objects: Vec<(String, serde_json::Value)> = ["Pod", "ConfigMap", "Pod", "Service"]
        .iter()
        .enumerate()
        .map(|(i, k)| {
            (
                format!("o{i}"),
                json!({"kind": k, "metadata": {"name": format!("o{i}")}}),
            )
        })
        .collect();
    let v = set.eval_objects(&objects).unwrap();
    let got: Vec<(String, String)> = v
        .iter()
        .map(|x| (x.subject.clone(), x.msg.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("o0", "pod check on Pod"),
            ("o0", "seen Pod"),
            ("o1", "seen ConfigMap"),
            ("o2", "pod check on Pod"),
            ("o2", "seen Pod"),
            ("o3", "seen Service"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );

    // A package routed to Pods still sees every object in `data.tripline.objects`, even of
    // kinds no package is evaluated on.
    let mut joins = PolicySet::new(false);
    joins
        .add(
            "join.rego",
            "package join\nimport rego.v1\ntripline_kinds := {\"Pod\"}\ndeny contains sprintf(\"%d config maps\", [count([o | some o in data.tripline.objects; o.kind == \"ConfigMap\"])]) if true",
        )
        .unwrap();
    let prepared = joins.prepare_objects(&objects).unwrap();
    assert_eq!(prepared.converted(), 4);
    let v = joins.eval_prepared(&prepared).unwrap();
    assert_eq!(v.len(), 2);
    assert!(v.iter().all(|x| x.msg == "1 config maps"), "{v:?}");
    // Without such a policy only what a package reads is converted ahead (nothing here).
    assert_eq!(set.prepare_objects(&objects).unwrap().converted(), 0);

    let mut bad = PolicySet::new(false);
    bad.add(
        "bad.rego",
        "package bad\nimport rego.v1\ntripline_kinds := \"Pod\"\ndeny contains 1 if false",
    )
    .unwrap();
    let err = bad.eval_objects(&objects).unwrap_err();
    assert_eq!(err, "data.bad.tripline_kinds: expected a set of kinds");
}
