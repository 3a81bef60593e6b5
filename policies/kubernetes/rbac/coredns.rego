# Whoever can rewrite the `coredns` ConfigMap in kube-system can redirect cluster DNS.
package tripline.kubernetes.rbac.can_modify_coredns

import rego.v1

# Tripline evaluates this package on bindings only.
tripline_kinds := data.tripline.lib.rbac.binding_kinds

# The binding's reach covers kube-system.
reaches_kube_system if input.kind == "ClusterRoleBinding"

reaches_kube_system if input.metadata.namespace == "kube-system"

# A rule without resourceNames covers every ConfigMap.
covers_coredns(rule) if count(object.get(rule, "resourceNames", [])) == 0

covers_coredns(rule) if "coredns" in rule.resourceNames

deny contains a if {
	reaches_kube_system
	some rule in data.tripline.lib.rbac.grants({"update", "patch"}, {"configmaps"}, {""})
	covers_coredns(rule)
	some s in input.subjects
	a := {
		"msg": sprintf("Subject: %s-%s can modify 'coredns' configmap", [s.kind, s.name]),
		"severity": "high",
		"subject": s,
		"binding": input.metadata.name,
	}
}
