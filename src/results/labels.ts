/** Class names for reports. Fashion-MNIST's are fixed by the dataset (label index → name). */
export { FASHION_MNIST_CLASSES } from '../common/fashion-mnist-classes.js';

/** The name of `label`, or "class N" when the model has no names for it. */
export function labelName(label: number, names: readonly string[] | undefined): string {
  return names?.[label] ?? `class ${label}`;
}

/** The distance a dedupe method's threshold applies to: --metric only means something for cnn embeddings. */
export function dedupeDistanceName(method: string, metric: string): string {
  switch (method) {
    case 'cnn':
      return metric;
    case 'phash':
      return 'Hamming distance';
    case 'mse':
      return 'mean squared error';
    case 'change':
      return 'changed-area fraction';
    default:
      return 'distance';
  }
}
