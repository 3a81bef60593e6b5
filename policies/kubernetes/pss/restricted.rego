# Pod Security Standards, restricted profile (on top of baseline): hardened pods.
package tripline.kubernetes.pss.restricted

import rego.v1

# The pod spec helpers repeat baseline's on purpose: a rule of another package is read by
# walking that package, which made this profile a quarter slower on the register VM.
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

deny contains {"msg": sprintf("%s: container %s may run as root (set runAsNonRoot: true)", [name, c.name]), "severity": "medium"} if {
	some c in containers
	not c.securityContext.runAsNonRoot == true
	not pod_spec.securityContext.runAsNonRoot == true
}

deny contains {"msg": sprintf("%s: container %s runs as uid 0", [name, c.name]), "severity": "high"} if {
	some c in containers
	c.securityContext.runAsUser == 0
}

deny contains {"msg": sprintf("%s: container %s allows privilege escalation", [name, c.name]), "severity": "medium"} if {
	some c in containers
	not c.securityContext.allowPrivilegeEscalation == false
}

deny contains {"msg": sprintf("%s: container %s does not drop ALL capabilities", [name, c.name]), "severity": "medium"} if {
	some c in containers
	not "ALL" in object.get(c, ["securityContext", "capabilities", "drop"], [])
}

deny contains {"msg": sprintf("%s: container %s adds capability %s (only NET_BIND_SERVICE)", [name, c.name, cap]), "severity": "high"} if {
	some c in containers
	some cap in c.securityContext.capabilities.add
	cap != "NET_BIND_SERVICE"
}

profile_set(sc) if sc.seccompProfile.type in {"RuntimeDefault", "Localhost"}

deny contains {"msg": sprintf("%s: container %s has no RuntimeDefault or Localhost seccomp profile", [name, c.name]), "severity": "medium"} if {
	some c in containers
	not profile_set(object.get(c, "securityContext", {}))
	not profile_set(object.get(pod_spec, "securityContext", {}))
}

allowed_volumes := {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}

deny contains {"msg": sprintf("%s: volume %s is of a restricted type", [name, v.name]), "severity": "medium"} if {
	some v in pod_spec.volumes
	types := {k | some k, _ in v; k != "name"}
	count(types - allowed_volumes) > 0
}
