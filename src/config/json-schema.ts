// The published JSON Schema of the config file (for editors' autocomplete and CI linting),
// generated from the zod schema so the two cannot drift.
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigSchema } from './schema.ts';

export const SCHEMA_FILE = fileURLToPath(new URL('../../config/gatehouse.schema.json', import.meta.url));

export function renderJsonSchema(): string {
  // io: 'input' describes what users write (defaults make keys optional).
  const schema = z.toJSONSchema(ConfigSchema, { io: 'input', target: 'draft-2020-12' });
  return `${JSON.stringify({ $id: 'https://gatehouse.dev/schema/gatehouse.schema.json', title: 'Gatehouse configuration', ...schema }, null, 2)}\n`;
}
