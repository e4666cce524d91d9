// Types of bench/fuzz/driver.js for the fuzz test (tests/integration/security/fuzz.integration.test.ts).
export interface FuzzTarget {
  framesPort: number;
  controlPort: number;
  httpPort: number;
  pid: number;
  state: { exited: boolean; code: number | null; signal: string | null };
  stderr(): string;
  rss(): Promise<number>;
  stop(): Promise<void>;
}

export interface FuzzStats {
  seed: number;
  controlSent: number;
  replies: number;
  controlErrors: Record<string, number>;
  controlReplies: Record<string, number>;
  controlCloses: Record<string, number>;
  reconnects: number;
  frameAttempts: number;
  framesReceived: number;
  frameErrors: Record<string, number>;
  frameCloses: Record<string, number>;
  httpSent: number;
  httpStatus: Record<string, number>;
  maxStatusMs: number;
  violations: string[];
}

export function startTarget(options: {
  resultsDir: string;
  outDir: string;
  fashionMnistDir?: string;
  sessionTimeoutMs?: number;
  maxPayloadBytes?: number;
  token?: string;
}): Promise<FuzzTarget>;

export function runFuzz(
  target: FuzzTarget,
  options: {
    seed: number;
    controlMessages: number;
    connections?: number;
    frameAttempts: number;
    httpRequests: number;
    token?: string;
    forbiddenStrings?: string[];
  },
): Promise<FuzzStats>;
