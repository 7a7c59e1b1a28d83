// Regenerate config/gatehouse.schema.json from src/config/schema.ts (npm run schema).
// test/config/schema-json.test.ts fails when the committed file is stale.
import { writeFileSync } from 'node:fs';
import { renderJsonSchema, SCHEMA_FILE } from '../src/config/json-schema.ts';

writeFileSync(SCHEMA_FILE, renderJsonSchema());
console.log(`wrote ${SCHEMA_FILE}`);
