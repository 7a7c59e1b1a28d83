// Read identity attributes from a verified assertion: each attribute by Name or FriendlyName,
// multi-valued as a list, mapped per `attributes:` / `preset:`. NameID is the user by default.
// Only the assertion's own statements count (assertion > AttributeStatement > Attribute), never
// attributes nested deeper (an assertion inside an Advice).
import type { Element } from '@xmldom/xmldom';
import type { SamlAttributeNames } from '../../config/types.ts';
import { childElement, childElements, NS, text } from './xml.ts';

export interface SamlIdentity {
  readonly user: string | undefined;
  readonly email: string | undefined;
  readonly name: string | undefined;
  readonly groups: string[];
}

export function readAttributes(assertion: Element): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const statement of childElements(assertion, NS.saml, 'AttributeStatement')) {
    for (const attr of childElements(statement, NS.saml, 'Attribute')) {
      const values = childElements(attr, NS.saml, 'AttributeValue')
        .map((v) => text(v) ?? '')
        .filter((v) => v !== '');
      for (const key of [attr.getAttribute('Name'), attr.getAttribute('FriendlyName')]) {
        if (!key) continue;
        out.set(key, [...(out.get(key) ?? []), ...values]);
      }
    }
  }
  return out;
}

export interface SamlMappingOptions {
  /** attributes.user was set: no fallback to the NameID. */
  readonly userAttributeRequired?: boolean;
  /** split_group_values_on: an IdP that packs several groups into one value (off by default). */
  readonly splitGroupValuesOn?: string | undefined;
}

export function mapSamlIdentity(
  assertion: Element,
  names: SamlAttributeNames,
  nameId: string | undefined,
  options: SamlMappingOptions = {},
): SamlIdentity {
  const attrs = readAttributes(assertion);
  const firstOf = (candidates: readonly string[]) => {
    for (const c of candidates) {
      const v = attrs.get(c);
      if (v && v.length > 0) return v;
    }
    return undefined;
  };
  const email = firstOf(names.email)?.[0];
  const given = firstOf(names.firstName)?.[0];
  const family = firstOf(names.lastName)?.[0];
  const name = firstOf(names.name)?.[0] ?? ([given, family].filter(Boolean).join(' ') || undefined);
  // Each AttributeValue is one group, whatever it contains: a group named "labelers,ml-admins"
  // must not grant ml-admins (IdPs where users create groups make that name easy to get).
  const sep = options.splitGroupValuesOn;
  const values = firstOf(names.groups) ?? [];
  const groups = (sep ? values.flatMap((g) => g.split(sep).map((part) => part.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, ''))) : values).filter(
    Boolean,
  );
  const user = firstOf(names.user)?.[0] ?? (options.userAttributeRequired ? undefined : nameId);
  return { user, email, name, groups: [...new Set(groups)] };
}

export function nameIdOf(assertion: Element): { value: string | undefined; format: string | undefined } {
  const subject = childElement(assertion, NS.saml, 'Subject');
  const nameId = subject ? childElement(subject, NS.saml, 'NameID') : undefined;
  return { value: text(nameId), format: nameId?.getAttribute('Format') ?? undefined };
}
