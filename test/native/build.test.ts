/**
 * The build: the loaded addon exports exactly what lib/native.ts declares, binding.gyp
 * compiles every C++ file, and the cmake-js build (and prebuilds, when present) expose the
 * same names as the node-gyp one.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { native, type NativeAddon } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";
import { testIf } from "../support/peers";

expectNoFdLeaks();

const root = path.resolve(__dirname, "../..");

/** Member names of the NativeAddon interface, read from lib/native.ts itself. */
function declaredNames(): string[] {
  const src = fs.readFileSync(path.join(root, "lib/native.ts"), "utf8");
  const start = src.indexOf("export interface NativeAddon {");
  const body = src.slice(start, src.indexOf("\n}", start));
  return [...body.matchAll(/^ {2}(?:readonly\s+)?([A-Za-z_]\w*)\s*[(:]/gm)].map((m) => m[1]).sort();
}

function exportNames(addon: object): string[] {
  return Object.keys(addon).sort();
}

describe("the addon", () => {
  test("exports every member NativeAddon declares, and nothing else", () => {
    const declared = declaredNames();
    expect(declared).toEqual(expect.arrayContaining(["FD_SETSIZE", "FdWatcher", "Poller", "backends", "noop"]));
    expect(exportNames(native)).toEqual(declared);
  });

  test("its classes and functions have the declared kinds", () => {
    expect(typeof native.Poller).toBe("function");
    expect(typeof native.FdWatcher).toBe("function");
    expect(typeof native.backends).toBe("function");
    expect(typeof native.noop).toBe("function");
    expect(typeof native.FD_SETSIZE).toBe("number");
    expect(native.noop()).toBeUndefined();
  });

  test("binding.gyp compiles every C++ file in native/", () => {
    const gyp = fs.readFileSync(path.join(root, "binding.gyp"), "utf8");
    const files = fs.readdirSync(path.join(root, "native")).filter((f) => f.endsWith(".cc"));
    expect(files.filter((f) => !gyp.includes(`"native/${f}"`))).toEqual([]);
  });

  test("package.json makes cmake-js build with Node-API headers (no download)", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
      binary?: { napi_versions?: number[] };
    };
    const gyp = fs.readFileSync(path.join(root, "binding.gyp"), "utf8");
    const napi = Number(/NAPI_VERSION=(\d+)/.exec(gyp)?.[1]);
    expect(pkg.binary?.napi_versions).toEqual([napi]);
  });
});

/** Other builds of the same sources, checked when they have been built. */
const others: Array<[string, string]> = [["cmake-js", path.join(root, "build-cmake/Release/fdreactor.node")]];
const prebuildDir = path.join(root, "prebuilds", `${process.platform}-${process.arch}`);
if (fs.existsSync(prebuildDir)) {
  for (const f of fs.readdirSync(prebuildDir).filter((n) => n.endsWith(".node"))) {
    others.push([`prebuild ${f}`, path.join(prebuildDir, f)]);
  }
}

/** The shared libraries an ELF file needs (readelf -d), or null where readelf is absent. */
function neededLibraries(file: string): string[] | null {
  const r = spawnSync("readelf", ["-d", file], { encoding: "utf8" });
  if (r.error !== undefined || r.status !== 0) return null;
  return [...r.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
}

const nodeGypBuild = path.join(root, "build/Release/fdreactor.node");
const linuxElf = process.platform === "linux";

describe.each([["node-gyp", nodeGypBuild], ...others])("the %s build", (_name, file) => {
  const built = fs.existsSync(file);
  // io_uring is spoken through raw syscalls, so the addon and its prebuild run where no
  // liburing is installed: only the C and C++ runtimes may be needed.
  testIf(built && linuxElf, `not built here, or not Linux (${path.relative(root, file)})`)("needs no shared library but libc and libstdc++ (no liburing)", () => {
    const needed = neededLibraries(file);
    expect(needed).not.toBeNull();
    expect(needed).toContain("libc.so.6");
    expect((needed as string[]).filter((l) => !/^(libc|libstdc\+\+|libm|libgcc_s|ld-linux[-\w.]*)\.so/.test(l))).toEqual([]);
  });
  if (file === nodeGypBuild) return; // the loaded addon: the tests above cover it

  testIf(built, `not built here (${path.relative(root, file)})`)("loads and exposes the same export names as the loaded addon", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const other = require(file) as NativeAddon;
    expect(exportNames(other)).toEqual(exportNames(native));
    expect(other.backends()).toEqual(native.backends());
    const p = new other.Poller(other.backends()[0], new Uint32Array(3));
    expect(p.wait(0)).toBe(0);
    p.close();
  });
});
