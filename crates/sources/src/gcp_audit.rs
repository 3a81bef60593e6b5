//! Google Cloud audit logs (source `gcp_auditlog`): Cloud Logging `LogEntry` records with an
//! `AuditLog` `protoPayload`, one per line. Event time is `timestamp`.

use std::sync::OnceLock;

use crate::json_event::{JsonSource, Style};

/// Source name.
pub const NAME: &str = "gcp_auditlog";

/// This source for the rest of Tripline (see [`Descriptor`](crate::Descriptor)).
pub const DESCRIPTOR: crate::Descriptor = crate::Descriptor {
    name: NAME,
    source,
    detect,
    sigma: (None, Some("gcp"), Some("gcp.audit")),
    rules: &[(
        "gcp_auditlog_rules.yaml",
        include_str!("../../../data/falco/rules/gcp_auditlog_rules.yaml"),
    )],
};

/// Whether an input's first bytes look like this source.
fn detect(head: &[u8]) -> bool {
    use crate::descriptor::has;
    has(head, "\"protoPayload\"")
}

/// Field table (gcpaudit plugin 0.3 fields; paths into the LogEntry).
const FIELDS_TSV: &str = "name\ttype\tlist\targ\tjson_path\tdescription
gcp.user\tstring\tno\t\t$.protoPayload.authenticationInfo.principalEmail\tPrincipal that made the call.
gcp.callerIP\tstring\tno\t\t$.protoPayload.requestMetadata.callerIp\tCaller IP address.
gcp.userAgent\tstring\tno\t\t$.protoPayload.requestMetadata.callerSuppliedUserAgent\tCaller user agent.
gcp.authorizationInfo\tstring\tno\t\t$.protoPayload.authorizationInfo\tAuthorization checks (JSON).
gcp.serviceName\tstring\tno\t\t$.protoPayload.serviceName\tAPI service name.
gcp.policyDelta\tstring\tno\t\t$.protoPayload.serviceData.policyDelta.bindingDeltas\tIAM policy binding changes (JSON).
gcp.request\tstring\tno\t\t$.protoPayload.request\tRequest object (JSON).
gcp.methodName\tstring\tno\t\t$.protoPayload.methodName\tAPI method.
gcp.resourceName\tstring\tno\t\t$.protoPayload.resourceName\tResource acted on.
gcp.cloudfunctions.function\tstring\tno\t\t$.resource.labels.function_name\tCloud Function name.
gcp.cloudsql.databaseId\tstring\tno\t\t$.resource.labels.database_id\tCloud SQL database id.
gcp.compute.instanceId\tstring\tno\t\t$.resource.labels.instance_id\tCompute instance id.
gcp.compute.networkId\tstring\tno\t\t$.resource.labels.network_id\tVPC network id.
gcp.compute.subnetwork\tstring\tno\t\t$.resource.labels.subnetwork_name\tSubnetwork name.
gcp.compute.subnetworkId\tstring\tno\t\t$.resource.labels.subnetwork_id\tSubnetwork id.
gcp.dns.zone\tstring\tno\t\t$.resource.labels.zone_name\tDNS zone.
gcp.iam.serviceAccount\tstring\tno\t\t$.resource.labels.email_id\tService account e-mail.
gcp.iam.serviceAccountId\tstring\tno\t\t$.resource.labels.unique_id\tService account id.
gcp.location\tstring\tno\t\t$.resource.labels.location\tLocation.
gcp.logging.sink\tstring\tno\t\t$.resource.labels.name\tLogging sink.
gcp.projectId\tstring\tno\t\t$.resource.labels.project_id\tProject id.
gcp.resourceType\tstring\tno\t\t$.resource.type\tResource type.
gcp.resourceLabels\tstring\tno\t\t$.resource.labels\tResource labels (JSON).
gcp.storage.bucket\tstring\tno\t\t$.resource.labels.bucket_name\tStorage bucket.
gcp.time\tstring\tno\t\t$.timestamp\tEntry time.
";

/// The `gcp_auditlog` source definition.
pub fn source() -> &'static JsonSource {
    static SOURCE: OnceLock<JsonSource> = OnceLock::new();
    SOURCE.get_or_init(|| {
        JsonSource::build(
            NAME,
            "gcpaudit",
            FIELDS_TSV,
            Style::JsonText,
            &[],
            Vec::new(),
        )
        .with_plugin("gcpaudit", "0.3.0")
        .with_plugin("json", "0.7.4")
    })
}
