/** A plain-text table for the benchmark's summary. */

/**
 * Lays out rows under a header with columns padded to their widest cell; numbers are
 * right-aligned, text left-aligned.
 */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): string[] {
  const cells = [header, ...rows].map((row) => row.map(String));
  const widths = header.map((_, column) =>
    Math.max(...cells.map((row) => (row[column] ?? '').length)),
  );
  const line = (row: readonly (string | number)[]) =>
    row
      .map((cell, column) => {
        const text = String(cell);
        const width = widths[column]!;
        return typeof cell === 'number' ? text.padStart(width) : text.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [
    line(header),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...rows.map((row) => line(row)),
  ];
}
