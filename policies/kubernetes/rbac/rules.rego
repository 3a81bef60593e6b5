# Risky RBAC grants, one package per check so a pipeline can pick them.
# Each `deny` names the subject: "Subject: <Kind>-<name> can <what>".
package tripline.kubernetes.rbac.can_create_pods

import rego.v1

# Tripline evaluates this package on bindings only.
tripline_kinds := data.tripline.lib.rbac.binding_kinds

deny contains a if some a in data.tripline.lib.rbac.alerts({"create"}, {"pods"}, {""}, "can create pods", "high")
