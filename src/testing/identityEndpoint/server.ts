// The HTTP lifecycle of the emulator: listen, track connections and delay timers, close everything at once.
// It knows nothing about identities, shapes or faults; requestHandler.ts does.
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { LISTEN_BACKLOG } from "../ports.js";

/** What a request handler may ask of the server's lifetime. */
export interface ServerLifetime {
  /** Whether close() was called. */
  readonly closed: boolean;
  /** Resolves after `ms`, unless the server is closed first (then never: the request is abandoned). */
  wait(ms: number): Promise<void>;
}

/** Handles one request; may leave it unanswered (close() destroys the socket). */
export type LifetimeAwareHandler = (req: IncomingMessage, res: ServerResponse, lifetime: ServerLifetime) => Promise<void>;

/** A listening server. */
export interface ListeningServer {
  /** The port listened on. */
  port: number;
  /** Stops listening, cancels waits and destroys every open connection (including hanging ones). Idempotent. */
  close(): Promise<void>;
}

/** Listens on `host`:`port` (0: any free port) and serves every request with `handler`. */
export async function listen(host: string, port: number, handler: LifetimeAwareHandler): Promise<ListeningServer> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  let closing: Promise<void> | undefined;
  const lifetime: ServerLifetime = {
    get closed() {
      return closed;
    },
    wait: (ms) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          timers.delete(t);
          resolve();
        }, ms);
        timers.add(t);
      }),
  };

  const server = createServer((req, res) => {
    handler(req, res, lifetime).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(`emulator error: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  // A reset socket may emit errors on the server side; they are expected.
  server.on("clientError", (_err, socket) => socket.destroy());

  const boundPort = await bind(server, host, port);
  const close = (): Promise<void> => {
    if (closing) return closing;
    closed = true;
    closing = new Promise<void>((resolve) => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      server.closeAllConnections();
    });
    return closing;
  };
  return { port: boundPort, close };
}

/** Starts listening; resolves with the port bound, rejects when the address cannot be bound. */
async function bind(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // A deep accept queue, as a real endpoint has: with Node's default (511), a burst of thousands of first calls
    // overflows it, dropped SYNs are retried by the kernel after 1, 3, 7, 15, 31 s, and a test measures TCP back-off.
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === "object" && address !== null ? address.port : 0;
}
