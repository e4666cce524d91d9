/**
 * The dedupe stage's face for the analysis workers: the pure per-frame feature functions and types only
 * (perceptual hash, change-rule prep, method and feature shapes). A worker that imports this never loads
 * the unique store, its vector index (hnswlib) or the HTTP routes.
 */
export { PHASH_INPUT_SIZE, hashToHex, hexToHash, perceptualHash } from './hash.js';
export { DEFAULT_CHANGE_OPTIONS, borderCrop, type ChangeOptions, type GrayImage } from './change.js';
export { MSE_THUMB_SIZE, type Feature, type Method } from './methods.js';
