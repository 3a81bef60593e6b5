# Pod Security Standards, baseline profile: no known privilege escalations.
# Checks the pod spec of Pods and of workload templates.
package tripline.kubernetes.pss.baseline

import rego.v1

template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}

# Tripline evaluates this package on these kinds only.
tripline_kinds := template_kinds | {"Pod", "CronJob"}

pod_spec := input.spec if input.kind == "Pod"

pod_spec := input.spec.template.spec if input.kind in template_kinds

pod_spec := input.spec.jobTemplate.spec.template.spec if input.kind == "CronJob"

containers contains c if some c in pod_spec.containers

containers contains c if some c in pod_spec.initContainers

containers contains c if some c in pod_spec.ephemeralContainers

name := sprintf("%s %s/%s", [input.kind, object.get(input.metadata, "namespace", "default"), input.metadata.name])

deny contains {"msg": sprintf("%s: host namespace %s", [name, ns]), "severity": "high"} if {
	some ns in ["hostNetwork", "hostPID", "hostIPC"]
	pod_spec[ns] == true
}

deny contains {"msg": sprintf("%s: container %s is privileged", [name, c.name]), "severity": "high"} if {
	some c in containers
	c.securityContext.privileged == true
}

deny contains {"msg": sprintf("%s: hostPath volume %s", [name, v.name]), "severity": "high"} if {
	some v in pod_spec.volumes
	v.hostPath
}

deny contains {"msg": sprintf("%s: container %s uses host port %d", [name, c.name, p.hostPort]), "severity": "medium"} if {
	some c in containers
	some p in c.ports
	object.get(p, "hostPort", 0) != 0
}

baseline_caps := {
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

deny contains {"msg": sprintf("%s: container %s adds capability %s", [name, c.name, cap]), "severity": "high"} if {
	some c in containers
	some cap in c.securityContext.capabilities.add
	not cap in baseline_caps
}

deny contains {"msg": sprintf("%s: container %s uses procMount %s", [name, c.name, c.securityContext.procMount]), "severity": "medium"} if {
	some c in containers
	c.securityContext.procMount != "Default"
}

deny contains {"msg": sprintf("%s: seccomp profile Unconfined", [name]), "severity": "medium"} if {
	pod_spec.securityContext.seccompProfile.type == "Unconfined"
}

deny contains {"msg": sprintf("%s: container %s seccomp profile Unconfined", [name, c.name]), "severity": "medium"} if {
	some c in containers
	c.securityContext.seccompProfile.type == "Unconfined"
}

safe_sysctls := {
	"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
}

deny contains {"msg": sprintf("%s: unsafe sysctl %s", [name, s.name]), "severity": "medium"} if {
	some s in pod_spec.securityContext.sysctls
	not s.name in safe_sysctls
}
