// Validates Kubernetes objects against the schemas of the pinned @kubernetes-models packages, as the API
// server does with strict field validation:
// - the package's own validator (generated from the upstream CRDs / Go types): types, enums, required
//   fields, patterns, bounds;
// - TypeScript's excess-property check against the same package's generated types: unknown fields are
//   refused, at any depth (a free-form field such as WasmPlugin pluginConfig is typed `{}`, open).
// stdin: JSON [{"name": ..., "object": {...}}, ...]; stdout: JSON [[problem, ...], ...] in the same order.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const HERE = dirname(fileURLToPath(import.meta.url));

// The package and folder holding a group/version's models, e.g. "@kubernetes-models/istio/extensions.istio.io/v1alpha1".
function modelModule(apiVersion) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group.endsWith(".istio.io")) return `@kubernetes-models/istio/${group}/${version}`;
  if (group.startsWith("gateway.networking.")) return `@kubernetes-models/gateway-api/${group}/${version}`;
  const coreFolder = { "": "", "apps": "apps/", "networking.k8s.io": "networking.k8s.io/", "policy": "policy/" }[group];
  return coreFolder === undefined ? null : `kubernetes-models/${coreFolder}${version}`;
}

async function packageProblems(object) {
  const module = modelModule(String(object.apiVersion ?? ""));
  let models;
  try {
    models = module && await import(module);
  } catch {
    models = null;
  }
  const Model = models && models[object.kind];
  if (!Model) return [`no schema for apiVersion ${object.apiVersion} kind ${object.kind} in the pinned packages`];
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return String(error.message).split("\n").filter(Boolean);
  }
}

// One virtual .ts file per object: `const object: IKind = <the object as a literal>;`, type-checked together.
function typeProblems(items) {
  const files = new Map();
  items.forEach(({ object }, index) => {
    const module = modelModule(String(object.apiVersion ?? ""));
    if (!module || typeof object.kind !== "string") return;
    const text = `import type { I${object.kind} } from "${module}";\n` +
      `export const object: I${object.kind} = ${JSON.stringify(object, null, 1)};\n`;
    files.set(join(HERE, `object-${index}.ts`), { index, text });
  });
  const options = { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler, skipLibCheck: true, types: [] };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (path) => files.has(path) || fileExists(path);
  host.readFile = (path) => files.get(path)?.text ?? readFile(path);
  host.getSourceFile = (path, language, ...rest) => files.has(path)
    ? ts.createSourceFile(path, files.get(path).text, language)
    : getSourceFile(path, language, ...rest);
  const program = ts.createProgram([...files.keys()], options, host);
  const problems = items.map(() => []);
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const file = diagnostic.file && files.get(diagnostic.file.fileName);
    if (!file) throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"));
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    const where = file.text.split("\n")[line].trim();
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, " ").replace(/\s+/g, " ");
    problems[file.index].push(`at ${where} ${message.slice(0, 400)}`);
  }
  return problems;
}

const items = JSON.parse(readFileSync(0, "utf8"));
const typed = typeProblems(items);
const results = [];
for (const [index, { object }] of items.entries()) {
  results.push([...await packageProblems(object), ...typed[index]]);
}
process.stdout.write(JSON.stringify(results));
