// Read identity attributes from a verified assertion: each attribute by Name or FriendlyName,
// multi-valued as a list, mapped per `attributes:` / `preset:`. NameID is the user by default.
import type { Element } from '@xmldom/xmldom';
import type { SamlAttributeNames } from '../../config/compile.ts';
import { children, first, NS, text } from './xml.ts';

export interface SamlIdentity {
  readonly user: string | undefined;
  readonly email: string | undefined;
  readonly name: string | undefined;
  readonly groups: string[];
}

export function readAttributes(assertion: Element): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const attr of children(assertion, NS.saml, 'Attribute')) {
    const values = children(attr, NS.saml, 'AttributeValue').map((v) => text(v) ?? '').filter((v) => v !== '');
    for (const key of [attr.getAttribute('Name'), attr.getAttribute('FriendlyName')]) {
      if (!key) continue;
      out.set(key, [...(out.get(key) ?? []), ...values]);
    }
  }
  return out;
}

/** `userAttributeRequired`: the config named the user attribute, so no fallback to the NameID. */
export function mapSamlIdentity(assertion: Element, names: SamlAttributeNames, nameId: string | undefined, userAttributeRequired = false): SamlIdentity {
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
  const groups = (firstOf(names.groups) ?? []).flatMap((g) => g.split(/[,;]\s*/)).map((g) => g.trim()).filter(Boolean);
  const user = firstOf(names.user)?.[0] ?? (userAttributeRequired ? undefined : nameId);
  return { user, email, name, groups: [...new Set(groups)] };
}

export function nameIdOf(assertion: Element): { value: string | undefined; format: string | undefined } {
  const subject = first(assertion, NS.saml, 'Subject');
  const nameId = subject ? first(subject, NS.saml, 'NameID') : undefined;
  return { value: text(nameId), format: nameId?.getAttribute('Format') ?? undefined };
}
