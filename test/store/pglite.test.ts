import { storeSuite } from "./storeSuite.ts";
import { pglite } from "./backends.ts";

storeSuite(pglite);
