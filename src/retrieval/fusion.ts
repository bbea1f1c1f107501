/**
 * Reciprocal rank fusion (Cormack, Clarke and Büttcher, 2009): each list gives an item
 * 1 / (k + rank), and the sums rank the union. It needs no score calibration between full-text
 * and vector search, which is why it is the usual way to combine them.
 */
export const RRF_K = 60;

/** Fused scores of the items in `lists` (each best first), best first. */
export function reciprocalRankFusion(lists: ReadonlyArray<readonly string[]>, k = RRF_K): Array<{ id: string; score: number; ranks: number[] }> {
  const fused = new Map<string, { score: number; ranks: number[] }>();
  lists.forEach((list, which) => {
    list.forEach((id, index) => {
      const entry = fused.get(id) ?? { score: 0, ranks: lists.map(() => 0) };
      entry.score += 1 / (k + index + 1);
      entry.ranks[which] = index + 1;
      fused.set(id, entry);
    });
  });
  return [...fused.entries()].map(([id, entry]) => ({ id, ...entry })).sort((a, b) => b.score - a.score || a.id.localeCompare(b.id));
}
