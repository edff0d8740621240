/**
 * LineReceiver and LineOnlyReceiver over an in-memory transport: framing, modes, limits,
 * re-entrancy and ownership of the delivered bytes.
 */
import { LineOnlyReceiver, LineReceiver } from "../../lib/protocols/basic";
import { expectNoFdLeaks } from "../support/fds";
import { StringTransport } from "./basic-support";

expectNoFdLeaks();

class Lines extends LineReceiver {
  readonly events: string[] = [];
  readonly lines: Buffer[] = [];
  override lineReceived(line: Buffer): void {
    this.lines.push(line);
    this.events.push(`line:${line.toString("latin1")}`);
  }
  override rawDataReceived(data: Buffer): void {
    this.events.push(`raw:${data.toString("latin1")}`);
  }
  override lineLengthExceeded(line: Buffer): void {
    this.events.push(`exceeded:${line.length}`);
    super.lineLengthExceeded(line);
  }
}

function connected<P extends LineReceiver | LineOnlyReceiver>(p: P): [P, StringTransport] {
  const t = new StringTransport();
  p.makeConnection(t);
  return [p, t];
}

const b = (s: string): Buffer => Buffer.from(s, "latin1");

describe("LineReceiver", () => {
  test("delivers each CRLF-terminated line without its delimiter, in order", () => {
    const [p] = connected(new Lines());
    p.dataReceived(b("one\r\ntwo\r\n\r\nthree"));
    expect(p.events).toEqual(["line:one", "line:two", "line:"]);
    p.dataReceived(b("\r\n"));
    expect(p.events).toEqual(["line:one", "line:two", "line:", "line:three"]);
  });

  test("a delimiter split across two reads still ends the line", () => {
    const [p] = connected(new Lines());
    p.dataReceived(b("abc\r"));
    expect(p.events).toEqual([]);
    p.dataReceived(b("\ndef\r"));
    p.dataReceived(b("\n"));
    expect(p.events).toEqual(["line:abc", "line:def"]);
  });

  test("a custom multi-byte delimiter split byte by byte", () => {
    const [p] = connected(new Lines());
    p.delimiter = b("<EOL>");
    for (const c of "x<EO<EOL>y<EOL>") p.dataReceived(b(c));
    expect(p.events).toEqual(["line:x<EO", "line:y"]);
  });

  test("a delimiter changed between reads is looked for in the bytes already pending", () => {
    const [p] = connected(new Lines());
    p.dataReceived(b("a\nb"));
    expect(p.events).toEqual([]);
    p.delimiter = b("\n");
    p.dataReceived(b("\n"));
    expect(p.events).toEqual(["line:a", "line:b"]);
  });

  test("a line of exactly MAX_LENGTH is delivered, one byte more is lineLengthExceeded and closes", () => {
    const [p, t] = connected(new Lines());
    p.MAX_LENGTH = 8;
    p.dataReceived(b("12345678\r\n"));
    expect(p.events).toEqual(["line:12345678"]);
    expect(t.disconnecting).toBe(false);
    p.dataReceived(b("123456789\r\nnext\r\n"));
    // The whole pending input (line, delimiter and what followed) is handed over and dropped.
    expect(p.events).toEqual(["line:12345678", "exceeded:17"]);
    expect(t.loseCount).toBe(1);
  });

  test("MAX_LENGTH plus a delimiter's worth of bytes without a delimiter is lineLengthExceeded", () => {
    const [p, t] = connected(new Lines());
    p.MAX_LENGTH = 8;
    p.dataReceived(b("12345678\r")); // could still be a line of 8
    expect(p.events).toEqual([]);
    p.dataReceived(b("\n"));
    expect(p.events).toEqual(["line:12345678"]);
    p.dataReceived(b("123456789"));
    expect(p.events).toEqual(["line:12345678"]);
    p.dataReceived(b("0"));
    expect(p.events).toEqual(["line:12345678", "exceeded:10"]);
    expect(t.disconnecting).toBe(true);
  });

  test("a subclass that keeps the connection gets the lines after an over-long one", () => {
    class Tolerant extends Lines {
      override lineLengthExceeded(line: Buffer): void {
        this.events.push(`exceeded:${line.length}`);
      }
    }
    const [p, t] = connected(new Tolerant());
    p.MAX_LENGTH = 4;
    p.dataReceived(b("toolong"));
    p.dataReceived(b("x"));
    expect(p.events).toEqual(["exceeded:7"]);
    p.dataReceived(b("\r\nok\r\n"));
    expect(p.events).toEqual(["exceeded:7", "line:x", "line:ok"]);
    expect(t.disconnecting).toBe(false);
  });

  test("setRawMode inside lineReceived sends the rest of the same read to rawDataReceived", () => {
    class Switching extends Lines {
      override lineReceived(line: Buffer): void {
        super.lineReceived(line);
        if (line.toString() === "RAW") this.setRawMode();
      }
      override rawDataReceived(data: Buffer): void {
        super.rawDataReceived(data);
        const s = data.toString("latin1");
        const end = s.indexOf("|");
        if (end >= 0) this.setLineMode(data.subarray(end + 1));
      }
    }
    const [p] = connected(new Switching());
    p.dataReceived(b("a\r\nRAW\r\nraw bytes\r\n"));
    p.dataReceived(b("more|b\r\nc\r\n"));
    expect(p.events).toEqual(["line:a", "line:RAW", "raw:raw bytes\r\n", "raw:more|b\r\nc\r\n", "line:b", "line:c"]);
    expect(p.lineMode).toBe(true);
  });

  test("clearLineBuffer returns and drops the bytes not yet delivered", () => {
    class Clearing extends Lines {
      cleared = "";
      override lineReceived(line: Buffer): void {
        super.lineReceived(line);
        this.cleared = this.clearLineBuffer().toString("latin1");
      }
    }
    const [p] = connected(new Clearing());
    p.dataReceived(b("first\r\nsecond\r\nthi"));
    expect(p.events).toEqual(["line:first"]);
    expect(p.cleared).toBe("second\r\nthi");
    p.dataReceived(b("rd\r\n"));
    expect(p.events).toEqual(["line:first", "line:rd"]);
  });

  test("sendLine writes the line then the delimiter", () => {
    const [p, t] = connected(new Lines());
    p.sendLine("hello");
    p.delimiter = b("\n");
    p.sendLine(b("bytes"));
    expect(t.value().toString("latin1")).toBe("hello\r\nbytes\n");
  });

  test("no line is delivered after the protocol closed the connection in lineReceived", () => {
    class Quitter extends Lines {
      override lineReceived(line: Buffer): void {
        super.lineReceived(line);
        if (line.toString() === "quit") this.transport?.loseConnection();
      }
    }
    const [p] = connected(new Quitter());
    p.dataReceived(b("a\r\nquit\r\nb\r\n"));
    expect(p.events).toEqual(["line:a", "line:quit"]);
  });

  test("data fed back from inside lineReceived is framed after the bytes already pending", () => {
    class Reentrant extends Lines {
      override lineReceived(line: Buffer): void {
        super.lineReceived(line);
        if (line.toString() === "a") this.dataReceived(b("fed\r\n"));
      }
    }
    const [p] = connected(new Reentrant());
    p.dataReceived(b("a\r\nb\r\nc"));
    expect(p.events).toEqual(["line:a", "line:b", "line:cfed"]);
  });

  test("pauseProducing holds lines back and resumeProducing delivers them", () => {
    class Pausing extends Lines {
      override lineReceived(line: Buffer): void {
        super.lineReceived(line);
        if (line.toString() === "pause") this.pauseProducing();
      }
    }
    const [p, t] = connected(new Pausing());
    p.dataReceived(b("pause\r\nx\r\n"));
    p.dataReceived(b("y\r\n"));
    expect(p.events).toEqual(["line:pause"]);
    p.resumeProducing();
    expect(p.events).toEqual(["line:pause", "line:x", "line:y"]);
    expect(t.producerCalls).toEqual(["paused", "resumed"]);
  });

  test("lines delivered earlier keep their bytes while later reads arrive in pieces", () => {
    const [p] = connected(new Lines());
    for (let i = 0; i < 50; i++) for (const piece of [`li`, `ne${i}\r`, `\n`]) p.dataReceived(b(piece));
    expect(p.lines.map((l) => l.toString())).toEqual(Array.from({ length: 50 }, (_, i) => `line${i}`));
  });

  test("a pending partial line is copied, so the caller may reuse its chunk", () => {
    const [p] = connected(new Lines());
    const chunk = b("first\r\nsec");
    p.dataReceived(chunk);
    chunk.fill(0x21);
    p.dataReceived(b("ond\r\n"));
    expect(p.lines[1].toString()).toBe("second");
  });
});

class OnlyLines extends LineOnlyReceiver {
  readonly events: string[] = [];
  override lineReceived(line: Buffer): void {
    this.events.push(`line:${line.toString("latin1")}`);
  }
  override lineLengthExceeded(line: Buffer): void {
    this.events.push(`exceeded:${line.length}`);
    super.lineLengthExceeded(line);
  }
}

describe("LineOnlyReceiver", () => {
  test("delivers lines across reads, with a delimiter split between them", () => {
    const [p] = connected(new OnlyLines());
    p.dataReceived(b("a\r\nb\r"));
    p.dataReceived(b("\nc"));
    p.dataReceived(b("\r\n"));
    expect(p.events).toEqual(["line:a", "line:b", "line:c"]);
  });

  test("a line longer than MAX_LENGTH is lineLengthExceeded and the connection closes", () => {
    const [p, t] = connected(new OnlyLines());
    p.MAX_LENGTH = 3;
    p.dataReceived(b("abc\r\nabcd\r\nx\r\n"));
    expect(p.events).toEqual(["line:abc", "exceeded:4"]);
    expect(t.loseCount).toBe(1);
  });

  test("a pending partial line longer than MAX_LENGTH plus a partial delimiter is lineLengthExceeded", () => {
    const [p, t] = connected(new OnlyLines());
    p.MAX_LENGTH = 3;
    p.dataReceived(b("abc\r"));
    expect(p.events).toEqual([]);
    p.dataReceived(b("x"));
    expect(p.events).toEqual(["exceeded:5"]);
    expect(t.disconnecting).toBe(true);
  });

  test("stops delivering once the transport is disconnecting", () => {
    class Quitter extends OnlyLines {
      override lineReceived(line: Buffer): void {
        super.lineReceived(line);
        this.transport?.loseConnection();
      }
    }
    const [p] = connected(new Quitter());
    p.dataReceived(b("1\r\n2\r\n3\r\n"));
    expect(p.events).toEqual(["line:1"]);
  });

  test("sendLine writes the line then the delimiter", () => {
    const [p, t] = connected(new OnlyLines());
    p.delimiter = b("\n");
    p.sendLine("x");
    expect(t.value().toString()).toBe("x\n");
  });
});
