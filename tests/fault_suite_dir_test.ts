/** The randomized fault suite (fault_suite.ts) against the directory sink. */

import { defineFaultSuite } from "./fault_suite.ts";

defineFaultSuite("dir", 200);
