package tripline.kubernetes.rbac.can_approve_csr

import rego.v1

deny contains a if {
	some a in data.tripline.lib.rbac.alerts(
		{"update", "patch"}, {"certificatesigningrequests/approval"}, {"certificates.k8s.io"},
		"can approve certificate signing requests", "high",
	)
}
