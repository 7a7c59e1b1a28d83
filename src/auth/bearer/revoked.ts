// IdP bearer tokens of a user whose sessions were all revoked (`DELETE /admin/users/<user>/sessions`)
// are refused when issued before that moment (session/user-not-before.ts), on every replica within
// a second, rather than working until their exp. A token without iat cannot show it is newer: it
// is refused while the marker lives.
import { GatehouseError } from '../../errors.ts';
import type { UserNotBefore } from '../../session/user-not-before.ts';
import type { BearerIdentity } from './verify.ts';

export async function refuseRevokedBearer(identity: BearerIdentity, markers: UserNotBefore): Promise<void> {
  const notBefore = await markers.notBefore(identity.user);
  if (notBefore === undefined) return;
  if (identity.issuedAt === undefined || identity.issuedAt * 1000 < notBefore)
    throw new GatehouseError('GH_BAD_TOKEN', "The bearer token was refused: it was issued before the user's sessions were revoked.", {
      audit: { reason: 'user_revoked', idp: identity.idp, user: identity.user },
    });
}
