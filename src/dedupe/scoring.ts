/**
 * Pairwise scoring of a dedupe partition against ground-truth groups: each group is a set of mutually
 * duplicate images and every other pair is distinct. The incremental store gives a partition of the files
 * (each unique with its duplicates); pairs inside one cell count as predicted duplicates.
 */

export interface PairwiseScore {
  items: number;
  truePairs: number;
  predictedPairs: number;
  correctPairs: number;
  precision: number;
  recall: number;
  f1: number;
  /** Ground-truth groups (of ≥ 2 items) reproduced exactly by one cell. */
  groupsRecovered: number;
  groups: number;
}

const pairs = (n: number) => (n * (n - 1)) / 2;

/**
 * `cellOf` and `groupOf` map each scored item to a cell / group id; items absent from `groupOf` are
 * singletons (distinct from everything). Only items present in `cellOf` are scored.
 */
export function scorePartition(cellOf: Map<string, string>, groupOf: Map<string, string>): PairwiseScore {
  const cellSizes = new Map<string, number>();
  const groupSizes = new Map<string, number>();
  const jointSizes = new Map<string, number>();
  const cellMembers = new Map<string, string[]>();
  for (const [item, cell] of cellOf) {
    cellSizes.set(cell, (cellSizes.get(cell) ?? 0) + 1);
    const list = cellMembers.get(cell) ?? [];
    list.push(item);
    cellMembers.set(cell, list);
    const group = groupOf.get(item);
    if (group === undefined) continue;
    groupSizes.set(group, (groupSizes.get(group) ?? 0) + 1);
    const joint = `${cell}\u0000${group}`;
    jointSizes.set(joint, (jointSizes.get(joint) ?? 0) + 1);
  }
  let predictedPairs = 0;
  for (const n of cellSizes.values()) predictedPairs += pairs(n);
  let truePairs = 0;
  for (const n of groupSizes.values()) truePairs += pairs(n);
  let correctPairs = 0;
  for (const n of jointSizes.values()) correctPairs += pairs(n);
  let groupsRecovered = 0;
  let groups = 0;
  for (const [group, size] of groupSizes) {
    if (size < 2) continue;
    groups++;
    for (const members of cellMembers.values()) {
      if (members.length === size && members.every((m) => groupOf.get(m) === group)) {
        groupsRecovered++;
        break;
      }
    }
  }
  const precision = predictedPairs === 0 ? 1 : correctPairs / predictedPairs;
  const recall = truePairs === 0 ? 1 : correctPairs / truePairs;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return {
    items: cellOf.size,
    truePairs,
    predictedPairs,
    correctPairs,
    precision,
    recall,
    f1,
    groupsRecovered,
    groups,
  };
}
