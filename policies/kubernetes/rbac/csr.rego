package tripline.kubernetes.rbac.can_approve_csr

import rego.v1

# Tripline evaluates this package on bindings only.
tripline_kinds := data.tripline.lib.rbac.binding_kinds

deny contains a if {
	some a in data.tripline.lib.rbac.alerts(
		{"update", "patch"}, {"certificatesigningrequests/approval"}, {"certificates.k8s.io"},
		"can approve certificate signing requests", "high",
	)
}
