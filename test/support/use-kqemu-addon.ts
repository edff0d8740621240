/**
 * Imported first by a test file that runs whole reactors on the kqueue backend: lib/native
 * then loads the kqueue-emulation build (FDREACTOR_ADDON), whose `backends()` has kqueue.
 * When that build is absent nothing changes, and the file's kqueue cases fail with
 * KQEMU_MISSING (never a skip).
 */
import * as fs from "node:fs";
import { KQEMU_ADDON } from "./kqemu-path";

if (fs.existsSync(KQEMU_ADDON)) process.env.FDREACTOR_ADDON = KQEMU_ADDON;
