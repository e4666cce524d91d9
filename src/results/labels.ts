/** Class names for reports. Fashion-MNIST's are fixed by the dataset (label index → name). */
export { FASHION_MNIST_CLASSES } from '../common/fashion-mnist-classes.js';

/** The name of `label`, or "class N" when the model has no names for it. */
export function labelName(label: number, names: readonly string[] | undefined): string {
  return names?.[label] ?? `class ${label}`;
}
