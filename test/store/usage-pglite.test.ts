import { pglite } from "./backends.ts";
import { usageSuite } from "./usageSuite.ts";

usageSuite(pglite);
