# Host baseline over a `tripline contract snapshot` document.
package tripline.host.baseline

import rego.v1

sshd := object.get(input, "sshd", {})

deny contains {"msg": "sshd permits root login (PermitRootLogin yes)", "severity": "high"} if {
	lower(sshd.permitrootlogin) == "yes"
}

deny contains {"msg": "sshd permits password authentication", "severity": "medium"} if {
	lower(sshd.passwordauthentication) == "yes"
}

deny contains {"msg": sprintf("account %s has uid 0", [name]), "severity": "critical"} if {
	some name, u in input.users
	u.uid == 0
	name != "root"
}

expected_setid := {
	"/usr/bin/passwd", "/usr/bin/su", "/usr/bin/sudo", "/usr/bin/mount", "/usr/bin/umount",
	"/usr/bin/chsh", "/usr/bin/chfn", "/usr/bin/newgrp", "/usr/bin/gpasswd", "/usr/bin/pkexec",
	"/usr/bin/chage", "/usr/bin/expiry", "/usr/bin/ssh-agent", "/usr/bin/crontab",
	"/usr/bin/fusermount", "/usr/bin/fusermount3", "/usr/sbin/unix_chkpwd", "/usr/sbin/pam_extrausers_chkpwd",
	"/usr/lib/openssh/ssh-keysign", "/usr/lib/dbus-1.0/dbus-daemon-launch-helper",
	"/bin/su", "/bin/mount", "/bin/umount",
}

setid(f) if {
	f.kind == "file"
	bits.and(f.perm, 3072) != 0 # 0o6000
}

deny contains {"msg": sprintf("unexpected setuid/setgid file %s (mode %s)", [path, f.mode]), "severity": "high"} if {
	some path, f in input.files
	setid(f)
	not path in expected_setid
}

path_dirs := {"/usr/local/sbin/", "/usr/local/bin/", "/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"}

deny contains {"msg": sprintf("world-writable file in PATH: %s (mode %s)", [path, f.mode]), "severity": "high"} if {
	some path, f in input.files
	f.kind in {"file", "dir"}
	some d in path_dirs
	startswith(path, d)
	bits.and(f.perm, 2) != 0 # others may write
}

deny contains {"msg": "IP forwarding is on (net.ipv4.ip_forward = 1)", "severity": "medium"} if {
	input.sysctls["net.ipv4.ip_forward"] == "1"
}

warn contains {"msg": sprintf("root accepts SSH key %s (%s)", [k.fingerprint, k.comment]), "severity": "low"} if {
	some k in input.authorized_keys
	k.user == "root"
}
