/**
 * The camera's health as the live page shows it: polls that failed (total and in a row), the last error
 * and the last good frame. One record per process (there is one camera source per server).
 */
export interface CameraHealth {
  /** idle: no camera session yet; ok: the last poll gave an image; failing: the last poll failed. */
  state: 'idle' | 'ok' | 'failing';
  errors: number;
  consecutiveFailures: number;
  lastError?: string;
  lastFrameAt?: number;
}

export const cameraHealth: CameraHealth = { state: 'idle', errors: 0, consecutiveFailures: 0 };

export function cameraPollFailed(message: string): void {
  cameraHealth.state = 'failing';
  cameraHealth.errors++;
  cameraHealth.consecutiveFailures++;
  cameraHealth.lastError = message;
}

export function cameraPollSucceeded(): void {
  cameraHealth.state = 'ok';
  cameraHealth.consecutiveFailures = 0;
  cameraHealth.lastFrameAt = Date.now();
}
