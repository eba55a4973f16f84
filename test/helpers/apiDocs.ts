/**
 * Finds undocumented declarations and `any` types in a rolled-up .d.ts (test/package/api-docs.test.ts).
 * The `typescript` devDependency is v7 (native; no JS compiler API), so this uses the TypeScript 6 that
 * API Extractor bundles, which has it.
 */
import { createRequire } from "node:module";

type TypeScript = typeof import("../../node_modules/@microsoft/api-extractor/node_modules/typescript/lib/typescript.js");
type Node = import("../../node_modules/@microsoft/api-extractor/node_modules/typescript/lib/typescript.js").Node;
type SourceFile = import("../../node_modules/@microsoft/api-extractor/node_modules/typescript/lib/typescript.js").SourceFile;

const requireFromExtractor = createRequire(createRequire(import.meta.url).resolve("@microsoft/api-extractor"));
const ts = requireFromExtractor("typescript") as TypeScript;

export interface Finding {
  /** Dotted path to the declaration, e.g. `Diagnosis.identity` or `ClassifyContext.app.name`. */
  path: string;
  line: number;
}

function hasDocComment(node: Node, source: SourceFile): boolean {
  const ranges = ts.getLeadingCommentRanges(source.text, node.getFullStart()) ?? [];
  return ranges.some((range) => {
    const text = source.text.slice(range.pos, range.end);
    // A doc comment that says something: not `/** */`, and not only tags such as `@internal`.
    return text.startsWith("/**") && /[A-Za-z0-9`]/.test(text.replace(/^\/\*\*|\*\/$/g, "").replace(/@\w+/g, ""));
  });
}

function memberName(member: Node, source: SourceFile): string {
  if (ts.isConstructorDeclaration(member) || ts.isConstructSignatureDeclaration(member)) return "constructor";
  if (ts.isCallSignatureDeclaration(member)) return "(call)";
  if (ts.isIndexSignatureDeclaration(member)) return "[index]";
  const name = (member as { name?: Node }).name;
  return name ? name.getText(source) : "?";
}

/** `private x` members, and the `#private;` marker that declarations emit for a class's `#` fields and methods. */
function isPrivate(member: Node): boolean {
  const name = (member as { name?: Node }).name;
  if (name !== undefined && ts.isPrivateIdentifier(name)) return true;
  return ts.canHaveModifiers(member) && (ts.getModifiers(member) ?? []).some((m) => m.kind === ts.SyntaxKind.PrivateKeyword);
}

/** Every public declaration, member and field of a rolled-up .d.ts that lacks a doc comment. */
export function undocumented(text: string, fileName: string): Finding[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const findings: Finding[] = [];
  const note = (node: Node, path: string) => {
    if (!hasDocComment(node, source)) findings.push({ path, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 });
  };
  // Fields of object types written inline (`app?: { name?: string }`, a return type `{ policy; position }`) are
  // public fields too. The inferred type of a `const` is not walked: its members are described by the const.
  const walkTypeLiterals = (node: Node | undefined, path: string) => {
    if (node === undefined) return;
    if (ts.isTypeLiteralNode(node)) return walkMembers(node.members, path);
    ts.forEachChild(node, (child) => walkTypeLiterals(child, path));
  };
  const walkMembers = (members: readonly Node[], path: string) => {
    for (const member of members) {
      if (isPrivate(member)) continue;
      const memberPath = `${path}.${memberName(member, source)}`;
      note(member, memberPath);
      walkTypeLiterals(member, memberPath);
    }
  };
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) continue;
    if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) note(statement, declaration.name.getText(source));
    } else if (ts.isInterfaceDeclaration(statement) || ts.isClassDeclaration(statement)) {
      const name = statement.name?.getText(source) ?? "default";
      note(statement, name);
      for (const clause of statement.heritageClauses ?? []) walkTypeLiterals(clause, name);
      walkMembers(statement.members, name);
    } else if (ts.isTypeAliasDeclaration(statement) || ts.isFunctionDeclaration(statement)) {
      const name = statement.name?.getText(source) ?? "default";
      note(statement, name);
      walkTypeLiterals(statement, name);
    } else {
      findings.push({
        path: `unexpected ${ts.SyntaxKind[statement.kind]}: extend this test`,
        line: source.getLineAndCharacterOfPosition(statement.getStart(source)).line + 1,
      });
    }
  }
  return findings;
}

/** Every `any` type in a .d.ts. */
export function anyTypes(text: string, fileName: string): Finding[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const findings: Finding[] = [];
  const visit = (node: Node) => {
    if (node.kind === ts.SyntaxKind.AnyKeyword) {
      let owner: Node = node;
      while (owner.parent !== undefined && owner.parent !== source) owner = owner.parent;
      const name = (owner as { name?: Node }).name?.getText(source) ?? "?";
      findings.push({ path: `${name}: ${node.parent.getText(source)}`, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return findings;
}
