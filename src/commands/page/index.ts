/**
 * The live page served on a run's HTTP port (docs/app.md): used by `run` and `app`.
 */
import { resolveConfig, type RunConfig } from '../../common/config.js';
import type { PageConfig } from './live-page.js';
export { videoSaveOption, type VideoSaveOption } from './video-option.js';

export {
  LivePage,
  PAGE_DIR,
  MAX_CLIENT_BUFFER_BYTES,
  GALLERY_MAX_ITEMS,
  checkPageConfig,
  type LiveCounts,
  type LivePageOptions,
  type LiveSessionInfo,
  type PageConfig,
  type RunState,
} from './live-page.js';

const PAGE_KEYS = [
  'title',
  'loopUpdateTime',
  'imageDisplayWidth',
  'optionsThMin',
  'optionsThMax',
  'optionsThInc',
  'optionsThInit',
  'imagesPerSecondMin',
  'imagesPerSecondMax',
  'optionsImageResolution',
  'optionsImageResolutionInitIdx',
  'galleryNColumns',
  'galleryOverallHeight',
  'inputTextTitle',
  'inputTextPlaceholder',
  'optionsSaveAsChoiceInitIdx',
] as const satisfies readonly (keyof PageConfig)[];

/** The page's options from a run or app configuration, defaults (src/common/config.ts) filled in. */
export function pageConfigOf(config: Partial<Record<string, unknown>>): PageConfig {
  const defaults = resolveConfig('run', {}, {}) as RunConfig;
  const out: Record<string, unknown> = {};
  for (const key of PAGE_KEYS) out[key] = config[key] ?? defaults[key];
  return out as unknown as PageConfig;
}
