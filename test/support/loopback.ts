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
