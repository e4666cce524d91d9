/**
 * The published JSON Schemas (draft 2020-12) of the wire, generated from the zod schemas of this folder so
 * the contract other languages build from cannot drift from the code: `npm run schemas` writes them under
 * schemas/, and a test fails when the committed files differ from what this produces.
 */
import { z } from 'zod/v4';
import {
  clientMessageSchema,
  PROTOCOL_VERSION,
  serverMessageSchema,
  submitRequestSchema,
} from './control.js';
import { frameHeaderSchema } from './header.js';

const BASE = 'https://framesift.dev/schemas/';

/** The results document keeps its own hand-maintained schema (schemas/results.schema.json); `submit` links it. */
const RESULTS_SCHEMA_REF = 'results.schema.json';

type JsonSchema = Record<string, unknown>;

function generate(schema: z.ZodType, file: string, title: string, description: string): JsonSchema {
  const generated = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    // The input side: optional fields stay optional and unknown fields are allowed (ignored by readers).
    io: 'input',
    unrepresentable: 'throw',
    override: (ctx) => {
      // zod copies the registry id into the definition; the $defs key already names it.
      delete ctx.jsonSchema.id;
      if (ctx.zodSchema === submitRequestSchema.shape.results) {
        for (const key of Object.keys(ctx.jsonSchema)) {
          if (key !== 'description') delete ctx.jsonSchema[key];
        }
        ctx.jsonSchema.$ref = RESULTS_SCHEMA_REF;
      }
    },
  }) as JsonSchema;
  const { $schema, description: _ownDescription, ...rest } = generated;
  return { $schema, $id: `${BASE}${file}`, title, description, ...rest };
}

/** File name under schemas/ → its JSON Schema. */
export function wireJsonSchemas(): Record<string, JsonSchema> {
  return {
    'control-client.schema.json': generate(
      clientMessageSchema,
      'control-client.schema.json',
      'framesift control messages, client → server',
      `JSON text messages a client sends on the control socket (port 7000), protocol version ${PROTOCOL_VERSION}. See docs/protocol.md.`,
    ),
    'control-server.schema.json': generate(
      serverMessageSchema,
      'control-server.schema.json',
      'framesift control messages, server → client',
      `JSON text messages the server sends on the control socket (port 7000; \`error\` also on a frame socket), protocol version ${PROTOCOL_VERSION}. See docs/protocol.md.`,
    ),
    'frame-header.schema.json': generate(
      frameHeaderSchema,
      'frame-header.schema.json',
      'framesift frame header',
      "The 24-byte little-endian header of every binary frame message (port 6000): x-offset and x-size give each field's bytes, x-type its binary type. See docs/protocol.md.",
    ),
  };
}
