/** The randomized fault suite (../fault_suite.ts), shard 2: OCI Audit events into a bucket, through the real OCI SDK. */

import { defineFaultSuite } from "../fault_suite.ts";

defineFaultSuite("oci-audit", "oci", 2);
