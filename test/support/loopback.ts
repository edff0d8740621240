/** What the machine's loopback offers, probed once with the addon's own sockets. */
import { native } from "../../lib/native";

/** True when this machine has ::1 (an IPv6 socket can be bound there). */
export function hasIPv6Loopback(): boolean {
  let fd = -1;
  try {
    fd = native.socket("IPv6", "tcp");
    native.bind(fd, "::1", 0);
    return true;
  } catch {
    return false;
  } finally {
    if (fd >= 0) native.close(fd);
  }
}

/** A port number on 127.0.0.1 where no `type` socket is bound (bound to port 0, read, closed). */
export function closedPort(type: "tcp" | "udp" = "tcp"): number {
  const fd = native.socket("IPv4", type);
  try {
    native.bind(fd, "127.0.0.1", 0);
    const a = native.getsockname(fd);
    if (a.family === "unix") throw new Error("expected an IPv4 address");
    return a.port;
  } finally {
    native.close(fd);
  }
}
