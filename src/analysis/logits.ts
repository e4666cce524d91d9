/** The one reading of a classifier's logits: top-1 class (arg-max) and its softmax probability. */

/**
 * Top-1 of row `row` of a [rows × classes] logits matrix: the arg-max class (ties → the lower index) and
 * its softmax probability, computed stably (shifted by the maximum).
 */
export function top1(
  values: Float32Array,
  row: number,
  classes: number,
): { label: number; confidence: number } {
  const base = row * classes;
  let label = 0;
  let max = values[base]!;
  for (let c = 1; c < classes; c++) {
    const v = values[base + c]!;
    if (v > max) {
      max = v;
      label = c;
    }
  }
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += Math.exp(values[base + c]! - max);
  return { label, confidence: 1 / sum };
}

/** Fills `labels[offset + i]` and `confidences[offset + i]` with the top-1 of every row. */
export function top1Rows(
  values: Float32Array,
  rows: number,
  classes: number,
  labels: Int32Array,
  confidences: Float32Array,
  offset = 0,
): void {
  for (let i = 0; i < rows; i++) {
    const { label, confidence } = top1(values, i, classes);
    labels[offset + i] = label;
    confidences[offset + i] = confidence;
  }
}
