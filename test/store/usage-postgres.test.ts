import { postgres } from "./backends.ts";
import { usageSuite } from "./usageSuite.ts";

usageSuite(postgres);
