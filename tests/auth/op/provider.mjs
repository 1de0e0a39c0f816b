// A real OpenID Provider for pancommons' login tests: panva's certified
// `oidc-provider`, configured from a JSON file and listening on loopback only.
//
//   node provider.mjs /path/config.json
//
// The config (written by tests/auth/oidc_provider.py) carries:
//   port, issuer            where to listen (always 127.0.0.1) and the issuer URL
//   clients                 oidc-provider client metadata, passed through as is
//   jwks                    {"keys": [private JWKs]}; the first key signs
//   accounts                {sub: {claims}}; only these subs exist
//   resource                API audience: access tokens for it are RS256 JWTs
//   resource_scopes         scopes the API resource server knows (space separated)
//   access_token_claims     account claims copied into the API access tokens
//   skip_consent            true: configured clients are first party, no consent page
//   cookie_keys             keys signing the provider's cookies
//
// Scopes -> claims: openid: sub; email: email, email_verified;
// profile: name, given_name, family_name, preferred_username, orcid,
// facility_user_id; pan: orcid, facility_user_id.
//
// oidc-provider 9 prints "Unsupported runtime. Use Node.js v22.x LTS" on Node 20: it runs
// there all the same (the tests prove the parts we use); the dev-adapter and
// devInteractions warnings are expected too.
//
// Prints READY on stdout once listening; SIGTERM/SIGINT close it and exit 0, and so
// does the parent's (the test run's) death.

import { readFileSync } from 'node:fs';

import Provider, { errors, interactionPolicy } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts || {};
const resource = config.resource || null;
const resourceScopes = config.resource_scopes ?? 'api';
const accessTokenClaims = config.access_token_claims || [];
const skipConsent = config.skip_consent !== false;

function account(sub) {
  if (!Object.hasOwn(accounts, sub)) return undefined;
  return {
    accountId: sub,
    async claims(_use, _scope) {
      return { ...accounts[sub], sub };
    },
  };
}

async function loadExistingGrant(ctx) {
  const { oidc } = ctx;
  const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
  if (grantId) return oidc.provider.Grant.find(grantId);
  if (!skipConsent) return undefined;
  // First-party clients: grant what they ask for, as the consent page would.
  const grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
  grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
  if (oidc.claims?.id_token) grant.addOIDCClaims(Object.keys(oidc.claims.id_token));
  if (oidc.claims?.userinfo) grant.addOIDCClaims(Object.keys(oidc.claims.userinfo));
  for (const [indicator, server] of Object.entries(oidc.resourceServers || {})) {
    const wanted = [...oidc.requestParamScopes].filter((s) => server.scopes.has(s));
    grant.addResourceScope(indicator, wanted.join(' '));
  }
  await grant.save();
  return grant;
}

// An unknown login is turned away like a wrong password: back to the login page
// (without this, oidc-provider accepts any accountId and fails later).
const policy = interactionPolicy.base();
policy.get('login').checks.add(new interactionPolicy.Check(
  'unknown_account',
  'no account with that login',
  'login_required',
  (ctx) => Boolean(ctx.oidc.session.accountId && !ctx.oidc.account),
));
// First-party clients see no consent page, native (loopback redirect) ones included;
// prompt=consent in a request still shows it.
if (skipConsent) policy.get('consent').checks.remove('native_client_prompt');

const provider = new Provider(config.issuer, {
  clients: config.clients || [],
  jwks: config.jwks,
  findAccount: async (_ctx, sub) => account(sub),
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username', 'orcid', 'facility_user_id'],
    pan: ['orcid', 'facility_user_id'],
  },
  scopes: ['openid', 'offline_access', ...(resource ? resourceScopes.split(' ').filter(Boolean) : [])],
  cookies: { keys: config.cookie_keys || ['pancommons-test-cookie-key'] },
  pkce: { required: () => true },
  loadExistingGrant,
  interactions: { policy },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // The code flow's access token is for the API even when the client
      // names no resource: the authorization request defaults to it, and the
      // token request keeps the granted one (the ID token then carries the
      // profile claims, since the access token is not for userinfo).
      defaultResource: async (_ctx, _client, oneOf) => oneOf || resource || undefined,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => {
        if (!resource || indicator !== resource) throw new errors.InvalidTarget();
        return {
          scope: resourceScopes,
          audience: resource,
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  extraTokenClaims: async (_ctx, token) => {
    if (!accessTokenClaims.length || !token.accountId || !Object.hasOwn(accounts, token.accountId)) return undefined;
    const claims = accounts[token.accountId];
    return Object.fromEntries(accessTokenClaims.filter((c) => c in claims).map((c) => [c, claims[c]]));
  },
  ttl: {
    AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL || 3600,
    AuthorizationCode: 60,
    ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL || 600,
    IdToken: 3600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
    RefreshToken: 86400,
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><html><head><title>oops! something went wrong</title></head><body>`
      + `<h1>oops! something went wrong</h1><pre id="error">${JSON.stringify(out).replace(/</g, '&lt;')}</pre></body></html>`;
  },
});

provider.on('server_error', (_ctx, err) => console.error('server_error', err));

const server = provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write('READY\n');
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// A test run killed without cleaning up leaves no provider behind.
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) stop(); }, 500).unref();
