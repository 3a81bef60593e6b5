# Deleting events hides an attacker's tracks (threat matrix: defense evasion).
package tripline.kubernetes.rbac.can_delete_events

import rego.v1

# Tripline evaluates this package on bindings only.
tripline_kinds := data.tripline.lib.rbac.binding_kinds

deny contains a if {
	some a in data.tripline.lib.rbac.alerts(
		{"delete", "deletecollection"}, {"events"}, {"", "events.k8s.io"},
		"can delete events", "medium",
	)
}
