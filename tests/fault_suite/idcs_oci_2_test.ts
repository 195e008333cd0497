/** The randomized fault suite (../fault_suite.ts), shard 2: identity-domain events into a bucket, through the real OCI SDK. */

import { defineFaultSuite } from "../fault_suite.ts";

defineFaultSuite("idcs", "oci", 2);
