/** Save names (order numbers): the policy lives in src/common/save-name.ts (the config checks it too). */
export { MAX_SAVE_NAME_BYTES, MAX_SAVE_NAME_LENGTH, sanitizeSaveName } from '../common/save-name.js';
