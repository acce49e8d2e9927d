#!/usr/bin/env node
// Makes npm `solc` (solcjs) answer like the native `solc` CLI for the two calls forge makes:
//   solc --version            -> "Version: <x.y.z+commit...>"
//   solc --standard-json ...  -> standard-JSON in on stdin, standard-JSON out on stdout
// forge cannot download native compilers on this machine, so foundry.toml points `solc` here.
// Imports that forge did not inline are resolved against the base path, the include paths and
// --allow-paths that forge passes, in that order (the same lookup the native compiler does).
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const argv = process.argv.slice(2);
if (argv.includes("--version")) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exit(0);
}
if (!argv.includes("--standard-json")) {
  process.stderr.write("solc-shim: only --version and --standard-json are supported\n");
  process.exit(2);
}

function flagValues(name) {
  const out = [];
  argv.forEach((arg, i) => {
    if (arg === name && argv[i + 1]) out.push(...argv[i + 1].split(","));
    else if (arg.startsWith(name + "=")) out.push(...arg.slice(name.length + 1).split(","));
  });
  return out;
}
const roots = [
  ...flagValues("--base-path"),
  ...flagValues("--include-path"),
  ...flagValues("--allow-paths"),
  process.cwd(),
];

function findImports(importPath) {
  const candidates = path.isAbsolute(importPath)
    ? [importPath]
    : roots.map((root) => path.resolve(root, importPath));
  for (const file of candidates) {
    if (fs.existsSync(file) && fs.statSync(file).isFile()) {
      return { contents: fs.readFileSync(file, "utf8") };
    }
  }
  return { error: `File not found: ${importPath} (searched ${roots.join(", ")})` };
}

const input = fs.readFileSync(0, "utf8");
process.stdout.write(solc.compile(input, { import: findImports }));
