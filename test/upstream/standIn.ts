import { createServer, type Server } from "node:http";

/**
 * A stand-in OpenAI-compatible server with fixed answers, for the gateway's tests (no model runs):
 * each request's JSON body is kept in `received` and handed to `answer`, which writes SSE chunks
 * with `send`; `[DONE]` ends every stream.
 */
export async function standInUpstream(answer: (body: Record<string, unknown>, send: (chunk: object) => void) => void): Promise<{ server: Server; url: string; received: Record<string, unknown>[] }> {
  const received: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    if (req.url === "/v1/models") return void res.end(JSON.stringify({ object: "list", data: [] }));
    let raw = "";
    req.on("data", (d: Buffer) => { raw += d.toString(); });
    req.on("end", () => {
      const body = JSON.parse(raw) as Record<string, unknown>;
      received.push(body);
      res.writeHead(200, { "content-type": "text/event-stream" });
      answer(body, (chunk) => res.write(`data: ${JSON.stringify(chunk)}\n\n`));
      res.end("data: [DONE]\n\n");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`, received };
}
