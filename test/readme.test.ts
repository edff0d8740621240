/**
 * Every code block of README.md, as written: each ```ts block type-checks against the
 * library (strict, as an ES module) and runs with Node as an ES module importing
 * "fdreactor" (the package's own name: Node resolves it through package.json's `exports`
 * to dist/lib, which `npm test`'s pretest builds), exiting 0 and printing every
 * `// → text` its comments promise. A ```js block whose first line is `// name.mjs` is a
 * file another block loads (the worker). In ```sh blocks, every npm command names a
 * script that exists, and `npm test` is what CI runs.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

const root = path.resolve(__dirname, "..");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { name: string; scripts: Record<string, string> };

interface Block {
  lang: string;
  code: string;
}

function blocks(): Block[] {
  const md = fs.readFileSync(path.join(root, "README.md"), "utf8");
  const out: Block[] = [];
  const re = /^```(\w+)\n([\s\S]*?)^```/gm;
  for (let m = re.exec(md); m; m = re.exec(md)) out.push({ lang: m[1], code: m[2] });
  return out;
}

/** The file name a block asks to be saved as (`// worker.mjs` on its first line), or null. */
function fileNameOf(b: Block): string | null {
  return /^\/\/ ([\w.-]+\.mjs)\n/.exec(b.code)?.[1] ?? null;
}

/** What a block promises to print: the text after each `// → `, in order. */
function promised(code: string): string[] {
  return [...code.matchAll(/\/\/ → (.*)$/gm)].map((m) => m[1].trim());
}

const all = blocks();
const tsBlocks = all.filter((b) => b.lang === "ts");

describe("README code blocks", () => {
  let dir = "";
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(root, "test", ".readme-"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("the README has TypeScript examples, and only ts, js and sh blocks", () => {
    expect(tsBlocks.length).toBeGreaterThanOrEqual(6);
    expect([...new Set(all.map((b) => b.lang))].sort()).toEqual(["js", "sh", "ts"]);
  });

  test("every TypeScript block type-checks against the library as an ES module", () => {
    const files = tsBlocks.map((b, i) => {
      const f = path.join(dir, `check${i}.ts`);
      fs.writeFileSync(f, b.code);
      return f;
    });
    const program = ts.createProgram(files, {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      baseUrl: root,
      paths: { fdreactor: ["lib/index.ts"] },
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
  }, 120000);

  test.each(tsBlocks.map((b, i) => [i, b] as const))("TypeScript block %i runs as written and prints what it promises", (i, b) => {
    const entry = path.join(root, "dist", "lib", "index.mjs");
    if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: npm test builds it (pretest), or: npm run tsc && node scripts/esm-entry.js`);
    for (const other of all) {
      const name = fileNameOf(other);
      if (name !== null) fs.writeFileSync(path.join(dir, name), other.code);
    }
    const js = ts.transpileModule(b.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    const file = path.join(dir, `run${i}.mjs`);
    fs.writeFileSync(file, js);
    const r = spawnSync(process.execPath, [file], { cwd: dir, encoding: "utf8", timeout: 20000 });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: "" });
    const lines = r.stdout.split("\n");
    const expected = promised(b.code);
    expect(expected.length).toBeGreaterThan(0);
    for (const text of expected) expect(lines).toContain(text);
  }, 30000);

  test("every npm command in the shell blocks exists, and CI runs the README's test command", () => {
    const commands = all.filter((b) => b.lang === "sh").flatMap((b) => b.code.split("\n").filter((l) => l.startsWith("npm ")));
    expect(commands.length).toBeGreaterThanOrEqual(4);
    for (const line of commands) {
      const [, verb, arg] = line.split(/\s+/);
      if (verb === "install") expect([undefined, "#", pkg.name]).toContain(arg);
      else expect(Object.keys(pkg.scripts)).toContain(verb === "run" ? arg : verb);
    }
    expect(fs.readFileSync(path.join(root, ".ci", "run"), "utf8")).toMatch(/^npm test$/m);
  });
});
