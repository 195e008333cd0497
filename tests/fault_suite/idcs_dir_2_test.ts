/** The randomized fault suite (../fault_suite.ts), shard 2: identity-domain events into a directory. */

import { defineFaultSuite } from "../fault_suite.ts";

defineFaultSuite("idcs", "dir", 2);
