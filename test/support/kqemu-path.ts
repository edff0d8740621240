/**
 * Where `npm run build:kqemu` puts the kqueue-emulation build of the addon, without loading
 * lib/native (so that a test file can name it in FDREACTOR_ADDON before lib/native loads).
 * `FDREACTOR_KQEMU_ADDON` names another build, e.g. a sanitizer build of the same sources.
 */
import * as path from "node:path";

/** The kqueue-emulation addon (kqemu/build/Release/fdreactor_kqemu.node unless overridden). */
export const KQEMU_ADDON = path.resolve(
  process.env.FDREACTOR_KQEMU_ADDON ?? path.join(__dirname, "../../kqemu/build/Release/fdreactor_kqemu.node"),
);

/** Message of every kqueue case when the emulation build is absent. */
export const KQEMU_MISSING = `the kqueue emulation build is missing (${KQEMU_ADDON}): run \`npm run build:kqemu\``;
