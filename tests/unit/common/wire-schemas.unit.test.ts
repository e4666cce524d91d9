/**
 * The published JSON Schemas under schemas/ are generated from the zod schemas in src/common/wire: these
 * tests fail when the committed files drift from the code (run `npm run schemas`), and check that the
 * schemas say what the code does (a third party validating with them agrees with the server).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { RESULTS_SCHEMA_PATH } from '../../../src/common/results-document.js';
import { PROJECT_ROOT } from '../../../src/common/paths.js';
import {
  CONTROL_ERROR_CODES,
  clientMessageSchema,
  PROTOCOL_VERSION,
  serverMessageSchema,
} from '../../../src/common/wire/control.js';
import {
  encodeFrame,
  FRAME_HEADER_BYTES,
  FRAME_HEADER_LAYOUT,
  type FrameHeader,
} from '../../../src/common/wire/header.js';
import { wireJsonSchemas } from '../../../src/common/wire/json-schema.js';

const SCHEMAS_DIR = path.join(PROJECT_ROOT, 'schemas');
const committed = (file: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path.join(SCHEMAS_DIR, file), 'utf8')) as Record<string, unknown>;

function compiler(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
  ajv.addVocabulary(['x-offset', 'x-size', 'x-type', 'x-byteOrder', 'x-headerBytes']);
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => !Number.isNaN(Date.parse(s)) });
  ajv.addSchema(JSON.parse(readFileSync(RESULTS_SCHEMA_PATH, 'utf8')) as object);
  return ajv;
}

describe('schemas/ generated from src/common/wire', () => {
  const generated = wireJsonSchemas();

  it.each(Object.keys(generated))('%s matches the code (else run `npm run schemas`)', (file) => {
    expect(committed(file), `schemas/${file} is stale: run npm run schemas`).toEqual(generated[file]);
  });

  it('are draft 2020-12 schemas that compile in strict mode, with ids the results schema resolves from', () => {
    const ajv = compiler();
    for (const file of Object.keys(generated)) {
      const schema = committed(file);
      expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(schema.$id).toBe(`https://framesift.dev/schemas/${file}`);
      expect(() => ajv.compile(schema)).not.toThrow();
    }
  });

  it('list every error code the code knows, and the protocol version', () => {
    const server = committed('control-server.schema.json') as {
      $defs: { error: { properties: { code: { enum: string[] } } } };
      description: string;
    };
    expect(server.$defs.error.properties.code.enum).toEqual([...CONTROL_ERROR_CODES]);
    expect(server.description).toContain(`protocol version ${PROTOCOL_VERSION}`);
  });
});

describe('the client-message schema agrees with the server', () => {
  const ajv = compiler();
  const validate = ajv.compile(committed('control-client.schema.json'));
  const results = {
    format: 'framesift-results/1',
    framesiftVersion: 'third-party-client/2.0',
    sessionId: 's',
    mode: 'classify',
    source: { name: 'fashion-mnist-test' },
    model: null,
    counts: { sent: 2, received: 2, processed: 2, dropped: {}, invalid: {}, missing: 0 },
    reconciliation: { reconciled: true, missingRanges: [] },
    predictions: { seq: [0, 1], label: [9, 2], confidence: [1, 0.5] },
    samples: [],
    summary: { predicted: 2, perClass: [] },
    timings: {},
  };
  const cases: Array<[string, unknown]> = [
    ['start with every field', { type: 'start', count: 3, fps: 0, source: 'fashion-mnist-test' }],
    ['bare start', { type: 'start' }],
    ['start with an unknown field', { type: 'start', count: 3, colour: 'blue' }],
    ['start with count 0', { type: 'start', count: 0 }],
    ['start with a fractional count', { type: 'start', count: 1.5 }],
    ['start with fps above 100000', { type: 'start', fps: 100_001 }],
    ['stop', { type: 'stop', sessionId: 's' }],
    ['stop without sessionId', { type: 'stop' }],
    ['status', { type: 'status' }],
    ['submit of a valid document', { type: 'submit', sessionId: 's', results }],
    ['submit without results', { type: 'submit', sessionId: 's' }],
    ['an unknown type', { type: 'launch' }],
  ];
  it.each(cases)('%s: JSON Schema and zod agree', (_name, message) => {
    const zodAccepts = clientMessageSchema.safeParse(message).success;
    expect(validate(message)).toBe(zodAccepts);
  });

  it('submit with results that are not a results document fails the schema (invalid-results)', () => {
    expect(validate({ type: 'submit', sessionId: 's', results: 42 })).toBe(false);
    expect(validate({ type: 'submit', sessionId: 's', results: { format: 'framesift-results/1' } })).toBe(
      false,
    );
  });
});

describe('the server-message schema agrees with the code', () => {
  const validate = compiler().compile(committed('control-server.schema.json'));
  const session = {
    type: 'session',
    sessionId: 'a',
    count: 3,
    fps: 10,
    width: 28,
    height: 28,
    channels: 1,
    framesUrl: 'ws://127.0.0.1:6000/?session=a',
    source: 'fashion-mnist-test',
    protocolVersion: PROTOCOL_VERSION,
  };
  const cases: Array<[string, unknown]> = [
    ['session', session],
    ['session from a server without protocolVersion', { ...session, protocolVersion: undefined }],
    ['session with 2 channels', { ...session, channels: 2 }],
    ['end', { type: 'end', sessionId: 'a', sent: 3, durationMs: 300.1 }],
    ['end cut short', { type: 'end', sessionId: 'a', sent: 1, reason: 'frame-socket-closed' }],
    ['end with an unknown reason', { type: 'end', sessionId: 'a', sent: 1, reason: 'tired' }],
    ['stopped', { type: 'stopped', sessionId: 'a', sent: 0 }],
    ['error', { type: 'error', code: 'bad-json', message: 'x' }],
    ['error with an unlisted code', { type: 'error', code: 'oops', message: 'x' }],
    ['an unknown type', { type: 'hello' }],
  ];
  it.each(cases)('%s: JSON Schema and zod agree', (_name, message) => {
    const clean = JSON.parse(JSON.stringify(message)) as unknown;
    const zodAccepts = serverMessageSchema.safeParse(clean).success;
    expect(validate(clean)).toBe(zodAccepts);
  });
});

describe('schemas/frame-header.schema.json states the codec layout', () => {
  const schema = committed('frame-header.schema.json') as {
    'x-headerBytes': number;
    'x-byteOrder': string;
    properties: Record<string, { 'x-offset': number; 'x-size': number; 'x-type': string }>;
  };

  it('covers the 24 bytes exactly once, in the codec order', () => {
    expect(schema['x-headerBytes']).toBe(FRAME_HEADER_BYTES);
    expect(schema['x-byteOrder']).toBe('little-endian');
    const fields = Object.entries(schema.properties).sort(([, a], [, b]) => a['x-offset'] - b['x-offset']);
    let next = 0;
    for (const [name, field] of fields) {
      expect(field['x-offset'], name).toBe(next);
      next += field['x-size'];
    }
    expect(next).toBe(FRAME_HEADER_BYTES);
    expect(Object.keys(schema.properties).sort()).toEqual(Object.keys(FRAME_HEADER_LAYOUT).sort());
  });

  it('decodes a frame from encodeFrame the way a client reading only the schema would', () => {
    const header: FrameHeader = {
      seq: 70_000,
      width: 640,
      height: 480,
      channels: 3,
      encoding: 1,
      sentAt: 1.5e12,
    };
    const message = encodeFrame(header, new Uint8Array([0xff, 0xd8, 0xff]));
    const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
    const read = (type: string, offset: number, size: number): unknown => {
      switch (type) {
        case 'ascii':
          return message.subarray(offset, offset + size).toString('ascii');
        case 'uint8':
          return view.getUint8(offset);
        case 'uint16':
          return view.getUint16(offset, true);
        case 'uint32':
          return view.getUint32(offset, true);
        case 'float64':
          return view.getFloat64(offset, true);
        default:
          throw new Error(`unknown x-type ${type}`);
      }
    };
    const decoded = Object.fromEntries(
      Object.entries(schema.properties).map(([name, f]) => [
        name,
        read(f['x-type'], f['x-offset'], f['x-size']),
      ]),
    );
    expect(decoded).toEqual({ ...header, magic: 'FSF1', reserved: 0 });
    const validate = compiler().compile(schema);
    expect(validate(decoded)).toBe(true);
    expect(validate({ ...decoded, channels: 2 })).toBe(false);
  });
});
