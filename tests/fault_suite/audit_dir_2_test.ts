/** The randomized fault suite (../fault_suite.ts), shard 2: OCI Audit events into a directory, through the real OCI SDK. */

import { defineFaultSuite } from "../fault_suite.ts";

defineFaultSuite("oci-audit", "dir", 2);
