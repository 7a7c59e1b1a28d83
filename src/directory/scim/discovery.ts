// What the service provider tells clients about itself (RFC 7644 §4, RFC 7643 §5-7):
// ServiceProviderConfig, ResourceTypes and Schemas — only the attributes Gatehouse keeps.
import { GROUP_SCHEMA, LIST_SCHEMA, USER_SCHEMA } from './protocol.ts';

const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

export function serviceProviderConfig(base: string, maxBodyBytes: number): Record<string, unknown> {
  return {
    schemas: [SPC_SCHEMA],
    documentationUri: 'https://github.com/gatehouse/gatehouse/blob/main/docs/offboarding.md',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: 1000 },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Bearer token',
        description: 'Authorization: Bearer <scim.token>',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
    // Not in RFC 7643; tells operators the body limit (413 beyond).
    'urn:gatehouse:scim:limits': { maxPayloadSize: maxBodyBytes },
  };
}

const RESOURCE_TYPES = [
  { id: 'User', name: 'User', endpoint: '/Users', description: 'User Account', schema: USER_SCHEMA },
  { id: 'Group', name: 'Group', endpoint: '/Groups', description: 'Group', schema: GROUP_SCHEMA },
];

export function resourceTypes(base: string): Record<string, unknown>[] {
  return RESOURCE_TYPES.map((t) => ({
    schemas: [RESOURCE_TYPE_SCHEMA],
    ...t,
    meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/${t.id}` },
  }));
}

const str = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  type: 'string',
  multiValued: false,
  required: false,
  caseExact: false,
  mutability: 'readWrite',
  returned: 'default',
  uniqueness: 'none',
  ...extra,
});

const SCHEMAS = [
  {
    id: USER_SCHEMA,
    name: 'User',
    description: 'User Account',
    attributes: [
      str('userName', { required: true, uniqueness: 'server' }),
      str('externalId', { caseExact: true }),
      {
        ...str('name'),
        type: 'complex',
        subAttributes: ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'].map((n) => str(n)),
      },
      str('displayName'),
      { ...str('active'), type: 'boolean' },
      {
        ...str('emails'),
        type: 'complex',
        multiValued: true,
        subAttributes: [str('value'), str('type'), { ...str('primary'), type: 'boolean' }],
      },
      {
        ...str('groups'),
        type: 'complex',
        multiValued: true,
        mutability: 'readOnly',
        subAttributes: [str('value', { mutability: 'readOnly' }), str('display', { mutability: 'readOnly' })],
      },
    ],
  },
  {
    id: GROUP_SCHEMA,
    name: 'Group',
    description: 'Group',
    attributes: [
      str('displayName', { required: true, uniqueness: 'server' }),
      str('externalId', { caseExact: true }),
      { ...str('members'), type: 'complex', multiValued: true, subAttributes: [str('value', { mutability: 'immutable' }), str('display')] },
    ],
  },
];

export function schemas(base: string): Record<string, unknown>[] {
  return SCHEMAS.map((s) => ({ schemas: [SCHEMA_SCHEMA], ...s, meta: { resourceType: 'Schema', location: `${base}/Schemas/${s.id}` } }));
}

export function listOf(resources: readonly unknown[], total = resources.length, startIndex = 1): Record<string, unknown> {
  return { schemas: [LIST_SCHEMA], totalResults: total, itemsPerPage: resources.length, startIndex, Resources: resources };
}
