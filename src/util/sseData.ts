import { EventSourceParserStream } from "eventsource-parser/stream";

/**
 * The `data` of each server-sent event in a response body, as each event completes. A spec parser,
 * not a split on blank lines: servers differ in line endings (CRLF), comments and multi-line data.
 */
export async function* sseData(body: ReadableStream<NodeJS.BufferSource>): AsyncGenerator<string> {
  for await (const event of body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream())) yield event.data;
}
