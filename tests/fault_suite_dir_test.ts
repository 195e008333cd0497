/** The randomized fault suite (fault_suite.ts): identity-domain events into a directory. */

import { defineFaultSuite } from "./fault_suite.ts";

defineFaultSuite("idcs", "dir", 200);
