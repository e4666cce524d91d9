import { describe, expect, it } from 'vitest';
import { KeptImages } from '../../../src/commands/worker.js';

const image = (bytes: number) => ({ encoded: new Uint8Array(bytes) });
const bytesOf = (found: ReturnType<KeptImages['get']>) =>
  found && 'encoded' in found ? found.encoded.byteLength : undefined;

describe("a bus worker's kept images for the keypoint check", () => {
  it('finds them by camera session and unique number, and drops the oldest beyond the byte budget', () => {
    const kept = new KeptImages(1000);
    kept.add('cam-1/s1', 0, image(400));
    kept.add('cam-2/s1', 0, image(400));
    expect(bytesOf(kept.get('cam-1/s1', 0))).toBe(400);
    expect(kept.get('cam-1/s1', 1)).toBeUndefined();
    // 1,200 bytes would exceed the budget: the oldest (cam-1's unique 0) goes.
    kept.add('cam-1/s1', 1, image(400));
    expect(kept.get('cam-1/s1', 0)).toBeUndefined();
    expect(kept.get('cam-2/s1', 0)).toBeDefined();
    expect(kept.get('cam-1/s1', 1)).toBeDefined();
    // Replacing an entry counts its bytes once.
    kept.add('cam-2/s1', 0, image(500));
    expect(bytesOf(kept.get('cam-2/s1', 0))).toBe(500);
    expect(kept.get('cam-1/s1', 1)).toBeDefined();
    // An image larger than the whole budget is not kept, and evicts nothing.
    kept.add('cam-3/s1', 0, image(2000));
    expect(kept.get('cam-3/s1', 0)).toBeUndefined();
    expect(kept.get('cam-1/s1', 1)).toBeDefined();
    expect(kept.get('cam-2/s1', 0)).toBeDefined();
  });
});
