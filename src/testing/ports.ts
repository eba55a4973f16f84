import { createServer } from "node:net";

/**
 * A TCP port on 127.0.0.1 that nobody listens on right now. Point `IDENTITY_ENDPOINT` (or any client) at it to get
 * ECONNREFUSED.
 *
 * Chosen below Linux's default ephemeral range (32768–60999), where `listen(0)` never hands ports out: the emulators
 * and servers of tests running at the same time bind port 0, so they cannot take this port after it is returned (a
 * port the system chose from that range could be handed to the next `listen(0)` of another test). Each candidate is
 * checked free by binding it; the system's own choice is the fallback.
 */
export async function unusedPort(host = "127.0.0.1"): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const candidate = 20000 + Math.floor(Math.random() * 12000);
    if (await bindsAndCloses(host, candidate)) return candidate;
  }
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close((err) => (err ? reject(err) : port > 0 ? resolve(port) : reject(new Error("no port assigned"))));
    });
  });
}

/** Whether `port` can be bound on `host` now (it is closed again before this resolves). */
function bindsAndCloses(host: string, port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * Accept-queue length for the emulators' listening sockets (the kernel caps it at net.core.somaxconn, 4096 on
 * current Linux). Node's default of 511 drops connections of a burst, which the kernel then retries for seconds.
 */
export const LISTEN_BACKLOG = 4096;
