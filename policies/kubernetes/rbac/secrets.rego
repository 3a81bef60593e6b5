package tripline.kubernetes.rbac.can_read_secrets

import rego.v1

# Tripline evaluates this package on bindings only.
tripline_kinds := data.tripline.lib.rbac.binding_kinds

deny contains a if {
	some a in data.tripline.lib.rbac.alerts({"get", "list", "watch"}, {"secrets"}, {""}, "can read secrets", "high")
}
