// Validates an AsyncAPI document with the official parser; prints its diagnostics as JSON and
// exits 1 when any of them is an error. Usage: node validate_asyncapi.cjs <node_modules dir> <file>
const path = require("path");
const fs = require("fs");
const { Parser, DiagnosticSeverity } = require(path.resolve(process.argv[2], "@asyncapi", "parser"));

(async () => {
  const parser = new Parser();
  const { document, diagnostics } = await parser.parse(fs.readFileSync(process.argv[3], "utf8"));
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  console.log(JSON.stringify({
    valid: document !== undefined && errors.length === 0,
    version: document ? document.version() : null,
    channels: document ? document.channels().all().map((c) => c.address()) : [],
    errors: errors.map((d) => ({ code: d.code, message: d.message, path: d.path })),
    warnings: diagnostics.filter((d) => d.severity !== DiagnosticSeverity.Error).length,
  }));
  process.exit(errors.length || document === undefined ? 1 : 0);
})().catch((err) => { console.error(err); process.exit(2); });
