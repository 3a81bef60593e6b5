package tripline.kubernetes.rbac.can_create_sa_token

import rego.v1

# Tripline evaluates this package on bindings only.
tripline_kinds := data.tripline.lib.rbac.binding_kinds

deny contains a if {
	some a in data.tripline.lib.rbac.alerts(
		{"create"}, {"serviceaccounts/token"}, {""},
		"can create service account tokens", "high",
	)
}
