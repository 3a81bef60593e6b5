# nodes/proxy reaches the kubelet API (exec in any pod on the node).
package tripline.kubernetes.rbac.can_access_proxy

import rego.v1

# Tripline evaluates this package on bindings only.
tripline_kinds := data.tripline.lib.rbac.binding_kinds

deny contains a if {
	some a in data.tripline.lib.rbac.alerts(
		{"get", "create", "update", "patch", "delete", "connect"},
		{"nodes/proxy", "services/proxy", "pods/proxy"}, {""},
		"can access proxy subresources", "high",
	)
}
