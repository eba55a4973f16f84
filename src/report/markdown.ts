/**
 * Markdown and Mermaid text, escaped: what an incident report is made of. Every value goes through `redact` first,
 * then loses what would change the document's structure (a pipe ends a table cell, a newline a row, a backtick a
 * code span, `<` opens HTML).
 */
import { redact } from "../util/redact.js";

/** One line of redacted text, Markdown-escaped: safe in a paragraph, a list item or a table cell. */
export function mdText(value: unknown): string {
  return oneLine(redact(String(value))).replace(/[\\`*_[\]<>|~]/g, (c) => (c === "<" ? "&lt;" : c === ">" ? "&gt;" : `\\${c}`));
}

/** A redacted value in a code span (ids, URLs, scopes): the fence is longer than any backtick run inside; pipes escaped for tables. */
export function mdCode(value: unknown): string {
  const text = oneLine(redact(String(value))).replace(/\|/g, "\\|");
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  const pad = text.startsWith("`") || text.endsWith("`") ? " " : "";
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** A table row from already-escaped cells (a cell with several lines joins them with `<br>`). */
export function mdRow(cells: readonly string[]): string {
  return `| ${cells.map((cell) => (cell.length > 0 ? cell : " ")).join(" | ")} |`;
}

/** A table: header, separator, rows. */
export function mdTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  return [mdRow(header), mdRow(header.map(() => "---")), ...rows.map(mdRow)];
}

/** A fenced block of redacted text; the fence is longer than any backtick run inside. */
export function mdFence(language: string, text: string): string[] {
  const body = redact(text);
  const longest = Math.max(2, ...[...body.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  return [`${fence}${language}`, ...body.split(/\r?\n/), fence];
}

/** A Mermaid node label: in double quotes, with quotes and Mermaid's entity marker (`#`) as entity codes. */
export function mermaidLabel(value: string): string {
  return `"${oneLine(redact(value)).replace(/#/g, "#35;").replace(/"/g, "#quot;")}"`;
}

function oneLine(text: string): string {
  return text
    .replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}
