// Writes the wire's JSON Schemas under schemas/ from the zod schemas in src/common/wire (after
// `npm run build`; `npm run schemas` does both). A test fails when the committed files drift from the code.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import prettier from 'prettier';
import { wireJsonSchemas } from '../dist/common/wire/json-schema.js';

for (const [file, schema] of Object.entries(wireJsonSchemas())) {
  const target = path.join('schemas', file);
  const options = (await prettier.resolveConfig(target)) ?? {};
  writeFileSync(target, await prettier.format(JSON.stringify(schema), { ...options, filepath: target }));
  process.stdout.write(`wrote ${target}\n`);
}
