/**
 * Whether the page may offer "Save as video": the run's VIDEO_CODEC must map to an encoder this machine's
 * ffmpeg has (FFMPEG_PATH). Checked once when the page is mounted, so a missing ffmpeg shows as a note on
 * the page instead of a failed save.
 */
import { errorMessage } from '../../common/errors.js';
import { ffmpegEncoders, ffmpegPath } from '../../common/ffmpeg.js';
import { loggerFor } from '../../common/logger.js';
import { videoCodecSpec } from '../../dedupe/index.js';

const log = loggerFor('page');

export interface VideoSaveOption {
  available: boolean;
  /** VIDEO_CODEC as configured (h264, mp4v, HEVC, …). */
  codec: string;
  /** Why it is not available, or the encoder and container it writes. */
  note: string;
}

export async function videoSaveOption(codec: string): Promise<VideoSaveOption> {
  try {
    const spec = videoCodecSpec(codec);
    const encoders = await ffmpegEncoders();
    if (!encoders.has(spec.encoder)) {
      return {
        available: false,
        codec,
        note: `${ffmpegPath()} has no ${spec.encoder} encoder for VIDEO_CODEC=${codec}`,
      };
    }
    return { available: true, codec, note: `${codec}: ${spec.encoder}, .${spec.extension}` };
  } catch (err) {
    log.warn('video saves unavailable', { codec, error: errorMessage(err) });
    return { available: false, codec, note: errorMessage(err) };
  }
}
