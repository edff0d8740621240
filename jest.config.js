/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json", diagnostics: { warnOnly: false } }] },
  testTimeout: 30000,
  // Real sockets and fds: keep parallelism modest on a 2-core machine.
  maxWorkers: 2,
  // The kqueue-emulation test build, made when missing or stale (test/support/kqemu-setup.js).
  globalSetup: "<rootDir>/test/support/kqemu-setup.js",
  // A suite whose real peer is absent is skipped: one line per file, a summary at the end.
  reporters: ["default", "<rootDir>/test/support/skip-reporter.js"],
};
