package tripline.kubernetes.rbac.can_modify_webhooks

import rego.v1

# Tripline evaluates this package on bindings only.
tripline_kinds := data.tripline.lib.rbac.binding_kinds

deny contains a if {
	some a in data.tripline.lib.rbac.alerts(
		{"create", "update", "patch", "delete", "deletecollection"},
		{"validatingwebhookconfigurations", "mutatingwebhookconfigurations"},
		{"admissionregistration.k8s.io"},
		"can modify admission webhooks", "high",
	)
}
