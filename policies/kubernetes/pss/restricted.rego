# Pod Security Standards, restricted profile (on top of baseline): hardened pods.
package tripline.kubernetes.pss.restricted

import data.tripline.kubernetes.pss.baseline
import rego.v1

tripline_kinds := baseline.tripline_kinds

name := baseline.name

containers := baseline.containers

deny contains {"msg": sprintf("%s: container %s may run as root (set runAsNonRoot: true)", [name, c.name]), "severity": "medium"} if {
	some c in containers
	not c.securityContext.runAsNonRoot == true
	not baseline.pod_spec.securityContext.runAsNonRoot == true
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
	not profile_set(object.get(baseline.pod_spec, "securityContext", {}))
}

allowed_volumes := {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}

deny contains {"msg": sprintf("%s: volume %s is of a restricted type", [name, v.name]), "severity": "medium"} if {
	some v in baseline.pod_spec.volumes
	types := {k | some k, _ in v; k != "name"}
	count(types - allowed_volumes) > 0
}
