import { Type, type Static } from "typebox";

/**
 * OpenAI's Response object (the Responses API), as Hearth writes it: the fields it fills, typed;
 * the tests check it against OpenAI's published OpenAPI document.
 */
const Status = Type.Enum(["in_progress", "completed", "incomplete"]);
const OutputText = Type.Object({ type: Type.Literal("output_text"), text: Type.String(), annotations: Type.Array(Type.Unknown()), logprobs: Type.Array(Type.Unknown()) });

export const OutputItem = Type.Union([
  Type.Object({ type: Type.Literal("message"), id: Type.String(), role: Type.Literal("assistant"), status: Status, content: Type.Array(OutputText) }),
  Type.Object({
    type: Type.Literal("reasoning"), id: Type.String(), status: Status,
    summary: Type.Array(Type.Object({ type: Type.Literal("summary_text"), text: Type.String() })),
    content: Type.Array(Type.Object({ type: Type.Literal("reasoning_text"), text: Type.String() })),
  }),
  Type.Object({ type: Type.Literal("function_call"), id: Type.String(), call_id: Type.String(), name: Type.String(), arguments: Type.String(), status: Type.Enum(["in_progress", "completed"]) }),
]);
export type OutputItem = Static<typeof OutputItem>;

export const ResponseUsage = Type.Object({
  input_tokens: Type.Integer(),
  input_tokens_details: Type.Object({ cached_tokens: Type.Integer(), cache_write_tokens: Type.Integer() }),
  output_tokens: Type.Integer(),
  output_tokens_details: Type.Object({ reasoning_tokens: Type.Integer() }),
  total_tokens: Type.Integer(),
});
export type ResponseUsage = Static<typeof ResponseUsage>;

const FunctionTool = Type.Object({ type: Type.Literal("function"), name: Type.String(), description: Type.Union([Type.String(), Type.Null()]), parameters: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]), strict: Type.Boolean() });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const ResponseObject = Type.Object({
  id: Type.String(),
  object: Type.Literal("response"),
  created_at: Type.Integer(),
  completed_at: Nullable(Type.Integer()),
  status: Type.Enum(["in_progress", "completed", "incomplete", "failed"]),
  error: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
  incomplete_details: Nullable(Type.Object({ reason: Type.Literal("max_output_tokens") })),
  model: Type.String(),
  instructions: Nullable(Type.String()),
  output: Type.Array(OutputItem),
  tools: Type.Array(FunctionTool),
  tool_choice: Type.Union([Type.Enum(["none", "auto", "required"]), Type.Object({ type: Type.Literal("function"), name: Type.String() })]),
  parallel_tool_calls: Type.Boolean(),
  temperature: Nullable(Type.Number()),
  top_p: Nullable(Type.Number()),
  max_output_tokens: Nullable(Type.Integer()),
  previous_response_id: Nullable(Type.String()),
  store: Type.Boolean(),
  metadata: Type.Record(Type.String(), Type.String()),
  text: Type.Object({ format: Type.Record(Type.String(), Type.Unknown()) }),
  reasoning: Type.Object({ effort: Nullable(Type.String()), summary: Nullable(Type.String()) }),
  truncation: Type.Enum(["auto", "disabled"]),
  user: Type.Optional(Type.String()),
  /** Once the response ended. */
  usage: Type.Optional(ResponseUsage),
});
export type ResponseObject = Static<typeof ResponseObject>;

/** A stream event: its `type` names it (`response.output_text.delta`, ...); every one has a sequence number. */
export const ResponseStreamEvent = Type.Object({ type: Type.String(), sequence_number: Type.Integer() }, { additionalProperties: true });

export const DeletedResponse = Type.Object({ id: Type.String(), object: Type.Literal("response"), deleted: Type.Literal(true) });

/** POST /v1/responses/input_tokens. */
export const InputTokens = Type.Object({ object: Type.Literal("response.input_tokens"), input_tokens: Type.Integer() });
