import { createServer } from "node:net";

/**
 * A TCP port on 127.0.0.1 that nobody listens on right now: binds port 0, reads the port the system chose,
 * closes. Point `IDENTITY_ENDPOINT` (or any client) at it to get ECONNREFUSED.
 *
 * The port is free when returned; another process could take it later, which on a test machine is unlikely
 * within a test's lifetime.
 */
export async function unusedPort(host = "127.0.0.1"): Promise<number> {
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

/**
 * Accept-queue length for the emulators' listening sockets (the kernel caps it at net.core.somaxconn, 4096 on
 * current Linux). Node's default of 511 drops connections of a burst, which the kernel then retries for seconds.
 */
export const LISTEN_BACKLOG = 4096;
