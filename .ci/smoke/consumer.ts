// A strict TypeScript consumer of the installed package's types (tsconfig.json beside it:
// strict, skipLibCheck false).
import { Deferred, Factory, Protocol, Reactor, getPage, names, reactor, type Failure, type Request } from "fdreactor";

class Echo extends Protocol {
  override dataReceived(data: Buffer): void {
    this.transport!.write(data);
  }
}

export function serve(r: Reactor = reactor): number {
  const port = r.listenTCP(0, Factory.forProtocol(Echo), { interface: "127.0.0.1" });
  const host = port.getHost();
  return host.type === "UNIX" ? -1 : host.port;
}

export function chain(): Deferred<number> {
  const d = new Deferred<number>();
  d.addCallback((n: number) => n + 1).addErrback((f: Failure) => f.trap(Error));
  return d;
}

export const page: (url: string) => Deferred<Buffer> = (url) => getPage(url);
export type Handler = (request: Request) => string;
export type Config = names.ResolverConfig;
