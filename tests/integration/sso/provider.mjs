// A real OpenID Connect provider (the npm package oidc-provider, installed by
// scripts/install-oidc-provider.sh) on a loopback port, for the single sign-on tests.
//
//   node provider.mjs CONFIG.json MODULE_DIR
//
// CONFIG.json: {"keys": [private JWKs], "client": {client_id, client_secret,
// redirect_uris}, "users": {"alice": {"groups": [...], "email": ...}}}. MODULE_DIR is
// where oidc-provider is installed (.tools/oidc-provider). The provider listens on a port
// the kernel picks and prints "listening on http://127.0.0.1:PORT". POST /_test/reload
// reads CONFIG.json again and starts a fresh provider on the same port: new signing keys
// (key rotation), redirect URIs or users.
//
// Logins use the package's development interactions: any password is accepted for a
// login name; consent is given automatically. Device flow is on.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [configPath, moduleDir] = process.argv.slice(2);
const entry = join(moduleDir, 'node_modules', 'oidc-provider', 'lib', 'index.js');
const { default: Provider } = await import(pathToFileURL(entry).href);
const SCOPES = 'openid profile email groups';

function build(issuer) {
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  const users = config.users || {};
  const provider = new Provider(issuer, {
    clients: [
      {
        ...config.client,
        grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
      },
    ],
    jwks: { keys: config.keys },
    cookies: { keys: ['test-only-cookie-key-0123456789abcdef'] },
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'name'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    scopes: SCOPES.split(' '),
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
    },
    async findAccount(_ctx, id) {
      const user = users[id] || {};
      return {
        accountId: id,
        async claims() {
          return {
            sub: user.sub || `sub-${id}`,
            preferred_username: id,
            name: id,
            email: user.email || `${id}@example.test`,
            email_verified: true,
            groups: user.groups || [],
          };
        },
      };
    },
    async loadExistingGrant(ctx) {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
      if (grantId) {
        return oidc.provider.Grant.find(grantId);
      }
      const grant = new oidc.provider.Grant({
        clientId: oidc.client.clientId,
        accountId: oidc.session.accountId,
      });
      grant.addOIDCScope(SCOPES);
      await grant.save();
      return grant;
    },
  });
  return provider.callback();
}

let handle = null;
const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/_test/reload') {
    handle = build(issuerOf(server));
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('reloaded');
    return;
  }
  handle(req, res);
});

function issuerOf(srv) {
  return `http://127.0.0.1:${srv.address().port}`;
}

server.listen(0, '127.0.0.1', () => {
  handle = build(issuerOf(server));
  console.log(`listening on ${issuerOf(server)}`);
});
