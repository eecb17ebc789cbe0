import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";

/**
 * Validators for OpenAI's published schemas (the Responses API's Response object, its stream events
 * and the error body), from the OpenAPI document's components kept in openai-responses.openapi.json.
 */
const document = JSON.parse(readFileSync(new URL("./openai-responses.openapi.json", import.meta.url), "utf8")) as object;
// Formats such as `unixtime` are OpenAI's own, and the document uses keywords (discriminator) that are not JSON Schema's.
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema({ ...document, $id: "openai.json" });

export function openaiValidator(name: "Response" | "ResponseStreamEvent" | "ErrorResponse"): (value: unknown) => void {
  const validate = ajv.compile({ $ref: `openai.json#/components/schemas/${name}` });
  return (value) => {
    if (!validate(value)) {
      const errs = (validate.errors ?? []).slice(0, 8).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
      throw new Error(`not a valid OpenAI ${name}: ${errs.join("; ")}\n${JSON.stringify(value).slice(0, 2000)}`);
    }
  };
}
