import { describe, expect, it } from 'vitest';
import { cameraGroup, cameraOfResultSubject } from '../../../src/bus/subjects.js';

describe('cameraGroup (bus collect --cameras)', () => {
  it('takes every camera without a list', () => {
    const group = cameraGroup(undefined);
    expect(group.filters).toEqual(['results.*.*']);
    expect(group.has('anything')).toBe(true);
  });

  it('lets the server filter listed ids, one subject each', () => {
    const group = cameraGroup('dock1, dock2,dock1');
    expect(group.filters).toEqual(['results.dock1.*', 'results.dock2.*']);
    expect(['dock1', 'dock2', 'dock3', 'dock'].map((c) => group.has(c))).toEqual([true, true, false, false]);
  });

  it('matches patterns on whole ids and reads every result for them', () => {
    const group = cameraGroup('gate-*,yard?');
    expect(group.filters).toEqual(['results.*.*']);
    expect(['gate-1', 'gate-', 'xgate-1', 'yard7', 'yard77', 'dock1'].map((c) => group.has(c))).toEqual([
      true,
      true,
      false,
      true,
      false,
      false,
    ]);
  });

  it('refuses an entry that is no camera id or pattern, naming it', () => {
    expect(() => cameraGroup('dock1,a.b')).toThrow(/--cameras entry "a\.b": expected a camera id or pattern/);
  });

  it('reads the camera of a result subject', () => {
    expect(cameraOfResultSubject('results.gate-1.end')).toBe('gate-1');
    expect(cameraOfResultSubject('frames.0.gate-1')).toBeUndefined();
  });
});
