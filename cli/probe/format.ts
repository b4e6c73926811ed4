/**
 * The readable form of a {@link ProbeReport}: aligned `label value` lines, a table of the tools,
 * and the call's result as the model would read it.
 */
import type { ServerCapabilities } from '@modelcontextprotocol/sdk/types.js';
import type { ProbeReport, ProbeTool } from './run.js';

/** Longest description shown per tool, in characters. */
const DESCRIPTION_CHARS = 80;
const LABEL_WIDTH = 14;

/** The report as lines of text (no trailing newlines). */
export function formatProbeReport(report: ProbeReport): string[] {
  const lines: string[] = [];
  const add = (label: string, value: string) => lines.push(`${label.padEnd(LABEL_WIDTH)}${value}`);

  const info = report.serverInfo;
  const title = info?.title && info.title !== info.name ? ` (${info.title})` : '';
  add('Server', info ? `${info.name} ${info.version}${title}` : 'did not say');
  add('Target', report.target);
  add('Transport', describeTransport(report));
  if (report.protocolVersion) add('Protocol', report.protocolVersion);
  add('Connected in', `${report.connectMs} ms`);
  add('Capabilities', describeCapabilities(report.capabilities));
  const instructions = report.instructions?.trim();
  if (instructions) {
    const heading = shorten(instructions.replace(/^#+\s*/, ''));
    add('Instructions', `${heading} (${instructions.length} characters)`);
  }
  add('Tools', String(report.tools.length));
  lines.push(...toolTable(report.tools));

  const call = report.call;
  if (call) {
    lines.push('');
    const outcome = call.isError ? 'the server reported an error' : 'ok';
    add('Call', `${call.tool} ${JSON.stringify(call.args)}: ${outcome} in ${call.durationMs} ms`);
    lines.push(...call.text.split('\n'));
  }
  for (const asked of report.elicitations) {
    const what = asked.url ? `${asked.message} (${asked.url})` : asked.message;
    const sent = asked.content ? ` ${JSON.stringify(asked.content)}` : '';
    add('Asked', `${what}: ${asked.action}${sent}`);
  }
  return lines;
}

function describeTransport(report: ProbeReport): string {
  if (report.transport === report.requestedTransport) return report.transport;
  return `${report.transport} (the server refused ${report.requestedTransport}; fell back to HTTP+SSE)`;
}

/**
 * `tools (listChanged), resources (subscribe, listChanged), logging`: each capability with the
 * sub-features it turns on.
 */
export function describeCapabilities(capabilities: ServerCapabilities | undefined): string {
  const entries = Object.entries(capabilities ?? {}).filter(([, value]) => value !== undefined);
  if (entries.length === 0) return 'none';
  return entries
    .map(([name, value]) => {
      const features =
        value && typeof value === 'object'
          ? Object.entries(value as Record<string, unknown>)
              .filter(([, on]) => on !== false && on !== undefined)
              .map(([feature]) => feature)
          : [];
      return features.length > 0 ? `${name} (${features.join(', ')})` : name;
    })
    .join(', ');
}

function toolTable(tools: readonly ProbeTool[]): string[] {
  if (tools.length === 0) return [];
  const header = { name: 'ADVERTISED NAME', originalName: 'MCP NAME' };
  const nameWidth = Math.max(header.name.length, ...tools.map((t) => t.name.length));
  const originalWidth = Math.max(
    header.originalName.length,
    ...tools.map((t) => t.originalName.length),
  );
  const row = (name: string, originalName: string, description: string) =>
    `  ${name.padEnd(nameWidth)}  ${originalName.padEnd(originalWidth)}  ${description}`.trimEnd();
  return [
    row(header.name, header.originalName, 'DESCRIPTION'),
    ...tools.map((t) => row(t.name, t.originalName, shorten(t.description))),
  ];
}

/** The first line of `text`, cut to {@link DESCRIPTION_CHARS} with an ellipsis. */
function shorten(text: string): string {
  const firstLine = text.trim().split('\n')[0]!.trim();
  return firstLine.length <= DESCRIPTION_CHARS
    ? firstLine
    : `${firstLine.slice(0, DESCRIPTION_CHARS - 1).trimEnd()}…`;
}
