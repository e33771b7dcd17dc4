// A test OpenID provider: npm oidc-provider 9 with its development login pages.
//
// Written next to a node_modules link by dirac_core/testing/oidc.py and run as
// `node provider.mjs settings.json`. Settings: issuer, port, accounts_file, and
// optionally tls_cert/tls_key (then it serves https). devInteractions accept any
// login name with any password, and the login name is the subject (oidc-provider
// makes `sub` the account id); the account's other claims come from accounts_file,
// read again at every login so that a test can add people while it runs.
// Clients register themselves (RFC 7591, open registration at /reg).
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

import Provider from 'oidc-provider';

const settings = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

function accountClaims(id) {
  let accounts = {};
  try {
    accounts = JSON.parse(fs.readFileSync(settings.accounts_file, 'utf8'));
  } catch (err) {
    console.error(`cannot read ${settings.accounts_file}: ${err}`);
  }
  return { ...(accounts[id] || {}), sub: id };
}

const provider = new Provider(settings.issuer, {
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  // without this the ID token of the code flow carries only sub (claims at userinfo only)
  conformIdTokenClaims: false,
  cookies: { keys: [settings.cookie_key] },
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    registration: { enabled: true },
    revocation: { enabled: true },
  },
  pkce: { required: () => true },
  findAccount: async (ctx, id) => ({
    accountId: id,
    async claims() { return accountClaims(id); },
  }),
});
provider.proxy = false;

const app = provider.callback();
const server = settings.tls_cert
  ? https.createServer({ cert: fs.readFileSync(settings.tls_cert), key: fs.readFileSync(settings.tls_key) }, app)
  : http.createServer(app);
server.listen(settings.port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${settings.issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
