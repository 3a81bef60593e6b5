# Deleting events hides an attacker's tracks (threat matrix: defense evasion).
package tripline.kubernetes.rbac.can_delete_events

import rego.v1

deny contains a if {
	some a in data.tripline.lib.rbac.alerts(
		{"delete", "deletecollection"}, {"events"}, {"", "events.k8s.io"},
		"can delete events", "medium",
	)
}
