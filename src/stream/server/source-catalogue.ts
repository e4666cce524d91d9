/**
 * The sources a server offers: its default one (`serve --source`) first, then the built-in ones. Each is
 * opened once, on first use, and shared by the sessions that stream it; the default one at start-up, so a
 * bad --source fails before the server listens. A source that failed to open is tried again next time.
 */
import { BUILTIN_SOURCES, DEFAULT_SOURCE, openSource } from '../sources/index.js';
import type { FrameSource } from '../sources/source.js';
import type { StreamServerOptions } from './types.js';

export interface SourceCatalogue {
  /** The default source's name. */
  defaultName: string;
  /** Names a client may ask for, the default first. */
  offered: string[];
  /** The source named `name`, opened once. */
  named(name: string): Promise<FrameSource>;
  /** Closes every source opened. */
  close(): Promise<void>;
}

export async function openSourceCatalogue(
  options: Pick<StreamServerOptions, 'source' | 'fashionMnistDir' | 'camera' | 'video'>,
): Promise<SourceCatalogue> {
  const defaultName = options.source ?? DEFAULT_SOURCE;
  const offered = [defaultName, ...BUILTIN_SOURCES.filter((name) => name !== defaultName)];
  const opened = new Map<string, Promise<FrameSource>>();
  const named = (name: string): Promise<FrameSource> => {
    let source = opened.get(name);
    if (!source) {
      source = openSource(name, {
        fashionMnistDir: options.fashionMnistDir,
        camera: options.camera,
        video: options.video,
      });
      opened.set(name, source);
      source.catch(() => opened.delete(name));
    }
    return source;
  };
  await named(defaultName);
  return {
    defaultName,
    offered,
    named,
    async close() {
      for (const source of opened.values()) await source.then((s) => s.close()).catch(() => undefined);
    },
  };
}
