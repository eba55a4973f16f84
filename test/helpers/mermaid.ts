/**
 * Mermaid's own parser under a DOM shim: `mermaid.parse` (syntax) and the flowchart's database (nodes with their
 * classes, edges with their styles), to check what the incident report draws. Mermaid needs `window` for DOMPurify
 * at import time, so happy-dom's window is installed first; the import is dynamic for that reason.
 */
import { Window } from "happy-dom";

export interface ParsedFlowchart {
  diagramType: string;
  /** Node id → its classes and label. */
  nodes: Map<string, { classes: string[]; text: string }>;
  /** Edges in the order written, with their label and linkStyle styles. */
  edges: Array<{ from: string; to: string; label: string; style: string[] }>;
}

let loading: Promise<typeof import("mermaid").default> | undefined;

async function mermaid() {
  loading ??= (async () => {
    const window = new Window();
    (globalThis as { window?: unknown }).window = window;
    const { default: loaded } = await import("mermaid");
    loaded.initialize({ startOnLoad: false });
    return loaded;
  })();
  return loading;
}

/** Parses a flowchart with Mermaid's parser; throws Mermaid's parse error on a syntax error. */
export async function parseFlowchart(text: string): Promise<ParsedFlowchart> {
  const m = await mermaid();
  const { diagramType } = (await m.parse(text)) as { diagramType: string };
  const diagram = await m.mermaidAPI.getDiagramFromText(text);
  const db = diagram.db as unknown as {
    getVertices(): Map<string, { id: string; classes: string[]; text: string }>;
    getEdges(): Array<{ start: string; end: string; text: string; style?: string[] }>;
  };
  const nodes = new Map([...db.getVertices().values()].map((v) => [v.id, { classes: [...v.classes], text: v.text }]));
  const edges = db.getEdges().map((e) => ({ from: e.start, to: e.end, label: e.text, style: e.style ?? [] }));
  return { diagramType, nodes, edges };
}

/** The Mermaid block of a Markdown document. */
export function mermaidBlock(markdown: string): string {
  const match = /```mermaid\n([\s\S]*?)\n```/.exec(markdown);
  if (match === null) throw new Error("no mermaid block");
  return match[1]!;
}

/** Node ids by class. */
export function classesOf(chart: ParsedFlowchart): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [id, node] of chart.nodes) for (const c of node.classes) (out[c] ??= []).push(id);
  for (const ids of Object.values(out)) ids.sort();
  return out;
}

/** The path drawn thick: from A, following the edges styled as the path (green) or the failure (red). */
export function highlightedPath(chart: ParsedFlowchart): string[] {
  const thick = chart.edges.filter((e) => e.style.some((s) => /stroke-width:3px/.test(s)));
  const path = ["A"];
  for (;;) {
    const next = thick.find((e) => e.from === path.at(-1));
    if (next === undefined) return path;
    path.push(next.to);
  }
}
