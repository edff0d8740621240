/**
 * An error response is not destroyed by the close that follows it (RFC 9112 §9.6): the
 * server shuts its write side, reads and discards what the client still sends, and closes
 * when the client does, so the client sees the whole response and a clean end, not a reset.
 */
import * as net from "node:net";
import { setLogObservers } from "../../lib/log";
import { expectNoFdLeaks } from "../support/fds";
import { serve, withReactor } from "./helpers";

expectNoFdLeaks();

/** Sends `first`; once the response begins, keeps sending `more` chunks; reports how the connection ended. */
function sendAfterError(port: number, first: string, more: string, times: number): Promise<{ data: string; ending: string }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    const got: Buffer[] = [];
    let ending = "";
    let sent = 0;
    const finish = (how: string): void => {
      if (ending !== "") return;
      ending = how;
      clearTimeout(guard);
      sock.destroy();
      resolve({ data: Buffer.concat(got).toString("latin1"), ending });
    };
    const guard = setTimeout(() => finish("timeout"), 8000);
    sock.on("connect", () => sock.write(first));
    sock.on("data", (d) => {
      got.push(d);
      // The response arrived: the server has answered and is closing. Keep talking.
      for (; sent < times; sent++) sock.write(more);
    });
    sock.on("end", () => setTimeout(() => finish("end"), 100));
    sock.on("error", (e: NodeJS.ErrnoException) => finish(`error:${e.code}`));
    sock.on("close", () => setTimeout(() => finish("close"), 100));
  });
}

test("a 400 followed by more client bytes reaches the client whole, and the connection ends cleanly", async () => {
  const restore = setLogObservers([]);
  try {
    const results = await withReactor(async (r) => {
      const { port, listening } = serve(r, () => "never");
      const out = [];
      for (let i = 0; i < 5; i++) out.push(await sendAfterError(port, "NOT A REQUEST\r\n\r\n", "x".repeat(4096), 4));
      await listening.stopListening();
      return out;
    });
    for (const { data, ending } of results) {
      expect(data.startsWith("HTTP/1.1 400 Bad Request\r\n")).toBe(true);
      const [head, body] = data.split("\r\n\r\n");
      const length = Number(/Content-Length: (\d+)/.exec(head)![1]);
      expect(Buffer.byteLength(body)).toBe(length);
      expect(ending).toBe("end");
    }
  } finally {
    restore();
  }
});

test("a client that keeps sending past the bound is cut off after the response", async () => {
  const restore = setLogObservers([]);
  try {
    const { data, ending } = await withReactor(async (r) => {
      const { port, listening } = serve(r, () => "never");
      const res = await sendAfterError(port, "NOT A REQUEST\r\n\r\n", "y".repeat(65536), 8);
      await listening.stopListening();
      return res;
    });
    expect(data.startsWith("HTTP/1.1 400 Bad Request\r\n")).toBe(true);
    expect(ending).not.toBe("timeout"); // the server closed: it did not wait forever
  } finally {
    restore();
  }
});
