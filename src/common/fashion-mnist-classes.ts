/**
 * Fashion-MNIST's class names, label index → name, fixed by the dataset. Shared by the server (sources)
 * and the results stage (reports), so neither reaches into the other.
 */
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
