# Who can do what through RBAC bindings. `data.tripline.objects` holds every object of the
# input (Roles, ClusterRoles, bindings); `input` is the object being checked.
package tripline.lib.rbac

import rego.v1

# The ClusterRole a binding refers to.
role_of(binding) := role if {
	binding.roleRef.kind == "ClusterRole"
	some role in data.tripline.objects
	role.kind == "ClusterRole"
	role.metadata.name == binding.roleRef.name
}

# The Role (same namespace) a RoleBinding refers to.
role_of(binding) := role if {
	binding.roleRef.kind == "Role"
	some role in data.tripline.objects
	role.kind == "Role"
	role.metadata.name == binding.roleRef.name
	role.metadata.namespace == binding.metadata.namespace
}

# A rule list entry matches when it names one of the wanted values, or `*`.
matches(values, _) if "*" in values

matches(values, wanted) if {
	some v in values
	v in wanted
}

# Rules of the role bound by `binding` that grant one of `verbs` on one of `resources` in one
# of the API `groups`.
grants(binding, verbs, resources, groups) := [rule |
	some rule in role_of(binding).rules
	matches(rule.verbs, verbs)
	matches(rule.resources, resources)
	matches(rule.apiGroups, groups)
]

# One alert per subject of `input` (a binding) whose role grants the permission.
alerts(verbs, resources, groups, what, severity) := {a |
	input.kind in {"RoleBinding", "ClusterRoleBinding"}
	count(grants(input, verbs, resources, groups)) > 0
	some s in input.subjects
	a := {
		"msg": sprintf("Subject: %s-%s %s", [s.kind, s.name, what]),
		"severity": severity,
		"subject": s,
		"binding": input.metadata.name,
	}
}
