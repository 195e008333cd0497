/** The randomized fault suite (fault_suite.ts) against the Object Storage sink, through the real OCI SDK. */

import { defineFaultSuite } from "./fault_suite.ts";

defineFaultSuite("oci", 100);
