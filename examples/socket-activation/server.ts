/**
 * An echo server started by socket activation (systemd's LISTEN_FDS protocol): the service
 * manager opens and binds the listening sockets, starts this process with them as fds 3,
 * 4, ... and says how many in LISTEN_FDS (for this process: LISTEN_PID). The reactor
 * adopts each one (reactor.adoptStreamPort), serves its own duplicate, and this process
 * closes the inherited fd as it pleases.
 *
 *   npx tsc -p tsconfig.json
 *   systemd-socket-activate -l 127.0.0.1:8000 node dist/examples/socket-activation/server.js
 *   then: nc 127.0.0.1 8000
 */
import "../../lib/net"; // installs reactor.adoptStreamPort
import { native } from "../../lib/native";
import { Factory } from "../../lib/protocols/protocol";
import { Reactor, react } from "../../lib/reactor";
import type { AdoptedPort } from "../../lib/net";
import { Echo } from "../echo-server/server";

/** The first fd passed by socket activation (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;

/**
 * The fds this process was handed by socket activation: none when LISTEN_FDS is unset, or
 * when LISTEN_PID is set and names another process (the variables were inherited).
 */
export function listenFds(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number[] {
  if (env.LISTEN_PID !== undefined && Number(env.LISTEN_PID) !== pid) return [];
  const n = Number(env.LISTEN_FDS ?? 0);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`LISTEN_FDS must be a count, received ${String(env.LISTEN_FDS)}`);
  return Array.from({ length: n }, (_, i) => LISTEN_FDS_START + i);
}

/** Serves the echo protocol on each activated fd; closes the inherited fds (the reactor serves duplicates). */
export function serveActivated(reactor: Reactor, fds: number[]): AdoptedPort[] {
  return fds.map((fd) => {
    const family = native.getsockname(fd).family;
    const port = reactor.adoptStreamPort(fd, family, Factory.forProtocol(Echo));
    native.close(fd);
    return port;
  });
}

if (require.main === module) {
  void react(
    (reactor: Reactor) => {
      const fds = listenFds();
      if (fds.length === 0) throw new Error("no socket passed: run me under socket activation (LISTEN_FDS)");
      for (const port of serveActivated(reactor, fds)) {
        const host = port.getHost();
        process.stdout.write(`echo on ${host.type === "UNIX" ? host.name : `${host.host}:${host.port}`}\n`);
      }
      // Serve until SIGINT/SIGTERM: a Deferred that never fires.
      return new Promise<never>(() => undefined);
    },
    [],
    { reactor: new Reactor({ installSignalHandlers: true }) },
  );
}
