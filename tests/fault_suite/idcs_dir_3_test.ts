/** The randomized fault suite (../fault_suite.ts), shard 3: identity-domain events into a directory. */

import { defineFaultSuite } from "../fault_suite.ts";

defineFaultSuite("idcs", "dir", 3);
