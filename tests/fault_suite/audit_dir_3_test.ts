/** The randomized fault suite (../fault_suite.ts), shard 3: OCI Audit events into a directory, through the real OCI SDK. */

import { defineFaultSuite } from "../fault_suite.ts";

defineFaultSuite("oci-audit", "dir", 3);
