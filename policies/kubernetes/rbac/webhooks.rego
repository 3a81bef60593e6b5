package tripline.kubernetes.rbac.can_modify_webhooks

import rego.v1

deny contains a if {
	some a in data.tripline.lib.rbac.alerts(
		{"create", "update", "patch", "delete", "deletecollection"},
		{"validatingwebhookconfigurations", "mutatingwebhookconfigurations"},
		{"admissionregistration.k8s.io"},
		"can modify admission webhooks", "high",
	)
}
