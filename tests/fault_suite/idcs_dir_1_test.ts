/** The randomized fault suite (../fault_suite.ts), shard 1: identity-domain events into a directory. */

import { defineFaultSuite } from "../fault_suite.ts";

defineFaultSuite("idcs", "dir", 1);
