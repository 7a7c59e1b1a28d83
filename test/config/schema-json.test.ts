import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderJsonSchema, SCHEMA_FILE } from '../../src/config/json-schema.ts';

describe('config/gatehouse.schema.json', () => {
  it('matches the zod schema (run `npm run schema` after changing src/config/schema.ts)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(renderJsonSchema());
  });

  it('rejects unknown keys and documents the contract keys', () => {
    const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8'));
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['server', 'admin', 'routes', 'log_level']));
    const route = schema.properties.routes.items;
    expect(route.additionalProperties).toBe(false);
    expect(route.required).toEqual(expect.arrayContaining(['name', 'upstream']));
    expect(route.properties.timeout.default).toBe('30s');
  });
});
