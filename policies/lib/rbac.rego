# Who can do what through RBAC bindings. `input` is the object being checked; the roles of
# the run are in `data.tripline.roles`.
package tripline.lib.rbac

import rego.v1

binding_kinds := {"RoleBinding", "ClusterRoleBinding"}

# The role a binding refers to: `data.tripline.roles` indexes Roles and ClusterRoles by
# `Kind/namespace/name` (empty namespace for ClusterRoles).
role_of(binding) := data.tripline.roles[sprintf("ClusterRole//%s", [binding.roleRef.name])] if {
	binding.roleRef.kind == "ClusterRole"
}

role_of(binding) := data.tripline.roles[key] if {
	binding.roleRef.kind == "Role"
	key := sprintf("Role/%s/%s", [binding.metadata.namespace, binding.roleRef.name])
}

# A rule list entry matches when it names one of the wanted values, or `*`.
matches(values, _) if "*" in values

matches(values, wanted) if {
	some v in values
	v in wanted
}

# The role `input` (a binding) refers to, looked up once per binding for every package.
input_role := role_of(input)

# Rules of the role bound by `input` that grant one of `verbs` on one of `resources` in one
# of the API `groups`.
grants(verbs, resources, groups) := [rule |
	some rule in input_role.rules
	matches(rule.verbs, verbs)
	matches(rule.resources, resources)
	matches(rule.apiGroups, groups)
]

# One alert per subject of `input` (a binding) whose role grants the permission.
alerts(verbs, resources, groups, what, severity) := {a |
	input.kind in binding_kinds
	count(grants(verbs, resources, groups)) > 0
	some s in input.subjects
	a := {
		"msg": sprintf("Subject: %s-%s %s", [s.kind, s.name, what]),
		"severity": severity,
		"subject": s,
		"binding": input.metadata.name,
	}
}
