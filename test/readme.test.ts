/**
 * The README's TypeScript examples must compile against the library as it is: each ```ts
 * block is type-checked (imports from "fdreactor" pointed at lib/index.ts, the body wrapped
 * in an async function so that top-level await type-checks under CommonJS).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

const root = path.resolve(__dirname, "..");

function snippets(): string[] {
  const md = fs.readFileSync(path.join(root, "README.md"), "utf8");
  const out: string[] = [];
  const re = /```ts\n([\s\S]*?)```/g;
  for (let m = re.exec(md); m; m = re.exec(md)) out.push(m[1]);
  return out;
}

function toModule(code: string): string {
  const lines = code.split("\n");
  const imports = lines.filter((l) => l.startsWith("import "));
  const body = lines.filter((l) => !l.startsWith("import "));
  const fixed = imports.map((l) => l.replace(/from "fdreactor"/, `from ${JSON.stringify(path.join(root, "lib/index"))}`));
  return `${fixed.join("\n")}\nexport async function snippet(): Promise<void> {\n${body.join("\n")}\n}\n`;
}

describe("README examples", () => {
  const blocks = snippets();

  test("the README has TypeScript examples", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
  });

  test("every TypeScript example type-checks against the library", () => {
    const dir = fs.mkdtempSync(path.join(root, "test", ".readme-"));
    try {
      const files = blocks.map((b, i) => {
        const f = path.join(dir, `snippet${i}.ts`);
        fs.writeFileSync(f, toModule(b));
        return f;
      });
      const program = ts.createProgram(files, {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.CommonJS,
        strict: true,
        noImplicitOverride: true,
        esModuleInterop: true,
        skipLibCheck: true,
        noEmit: true,
        types: ["node"],
      });
      const diags = ts
        .getPreEmitDiagnostics(program)
        .filter((d) => d.file && files.includes(d.file.fileName))
        .map((d) => `${path.basename(d.file!.fileName)}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
      expect(diags).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
