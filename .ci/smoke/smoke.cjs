// CommonJS consumer of the installed package.
const fdreactor = require("fdreactor");
const { smoke } = require("./checks.cjs");

if (typeof fdreactor.getDefaultReactor !== "function") throw new Error("require('fdreactor') lacks getDefaultReactor");
smoke(fdreactor, "CommonJS").catch((e) => {
  console.error(e);
  process.exit(1);
});
