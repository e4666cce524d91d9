/** Class names for reports. Fashion-MNIST's are fixed by the dataset (label index → name). */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/** The name of `label`, or "class N" when the model has no names for it. */
export function labelName(label: number, names: readonly string[] | undefined): string {
  return names?.[label] ?? `class ${label}`;
}
