// A certified OpenID Provider (the npm package `oidc-provider`) on loopback, for Zegel's tests.
//
//   node tests/oidc_provider/server.mjs CONFIG.json      (or ZEGEL_TEST_OP_CONFIG=CONFIG.json)
//
// Reads its configuration from the JSON file (see README.md beside this file), listens on
// 127.0.0.1 and prints exactly one line `READY <issuer>` on stdout once it accepts requests.
// Logins are non-interactive: /interaction/:uid logs in the account named by `login_hint`
// (the first account when there is none) and grants every requested scope and claim, so a
// plain HTTP client that follows redirects reaches the client's redirect_uri with code and state.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import process from 'node:process';

import Provider, { errors, interactionPolicy } from 'oidc-provider';

const ACR_VALUES = [
  'urn:be:vlaanderen:authmech:eid',
  'urn:be:vlaanderen:authmech:itsme',
  'urn:be:vlaanderen:authmech:csamtotp',
  'urn:be:vlaanderen:authmech:csamsms',
  'urn:be:vlaanderen:authmech:csampassword',
];

// RFC 8176 `amr` values per method, used when an account gives none of its own.
const DEFAULT_AMR = {
  'urn:be:vlaanderen:authmech:eid': ['hwk', 'sc', 'pin', 'mfa'],
  'urn:be:vlaanderen:authmech:itsme': ['swk', 'pin', 'mfa'],
  'urn:be:vlaanderen:authmech:csamtotp': ['pwd', 'otp', 'mfa'],
  'urn:be:vlaanderen:authmech:csamsms': ['pwd', 'sms', 'mfa'],
  'urn:be:vlaanderen:authmech:csampassword': ['pwd'],
};

// Keys of an account entry that describe the login, not claims.
const LOGIN_KEYS = new Set(['acr', 'amr']);

const PROFILE_CLAIMS = ['name', 'given_name', 'family_name', 'email'];

function fail(message) {
  process.stderr.write(`certified OP: ${message}\n`);
  process.exit(2);
}

function readConfig() {
  const path = process.argv[2] || process.env.ZEGEL_TEST_OP_CONFIG;
  if (!path) fail('usage: node server.mjs CONFIG.json (or set ZEGEL_TEST_OP_CONFIG)');
  let config;
  try {
    config = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    fail(`cannot read configuration ${path}: ${error.message}`);
  }
  if (!Array.isArray(config.clients) || config.clients.length === 0) {
    fail('configuration needs at least one client in "clients"');
  }
  if (!config.accounts || Object.keys(config.accounts).length === 0) {
    fail('configuration needs at least one account in "accounts"');
  }
  return config;
}

function signingKeys(config) {
  if (config.jwks) return config.jwks; // a private JWKS given by the test
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { keys: [{ ...jwk, kid: `op-${randomUUID()}`, use: 'sig', alg: 'RS256' }] };
}

function clientMetadata(client) {
  const method = client.token_endpoint_auth_method || 'client_secret_basic';
  const metadata = {
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'RS256',
    ...client,
    token_endpoint_auth_method: method,
  };
  if (method === 'private_key_jwt') {
    if (!metadata.jwks && !metadata.jwks_uri) {
      fail(`client ${client.client_id}: private_key_jwt needs a public "jwks"`);
    }
    delete metadata.client_secret;
  }
  return metadata;
}

function accountClaims(accountId, entry) {
  const claims = { sub: accountId };
  for (const [key, value] of Object.entries(entry)) {
    if (!LOGIN_KEYS.has(key) && value !== null && value !== undefined) claims[key] = value;
  }
  return claims;
}

function ttlSetting(config) {
  const ttl = { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, ...(config.ttl || {}) };
  return {
    AccessToken: Number(ttl.AccessToken),
    AuthorizationCode: Number(ttl.AuthorizationCode),
    IdToken: Number(ttl.IdToken),
    Grant: 3600,
    Interaction: 600,
    Session: 3600,
  };
}

// The default policy, plus: a login_hint naming another account than the one logged in at
// the OP asks for a new login (so one browser can log in as several test accounts in turn).
function loginPolicy() {
  const { base, Check } = interactionPolicy;
  const policy = base();
  policy.get('login').checks.add(new Check(
    'login_hint_other_account',
    'login_hint names another account',
    (ctx) => {
      const hint = ctx.oidc.params.login_hint;
      const current = ctx.oidc.session.accountId;
      if (hint !== undefined && current !== undefined && hint !== current) {
        return Check.REQUEST_PROMPT;
      }
      return Check.NO_NEED_TO_PROMPT;
    },
  ));
  return policy;
}

function buildProvider(config, issuer) {
  const accounts = config.accounts;
  const provider = new Provider(issuer, {
    clients: config.clients.map(clientMetadata),
    clientAuthMethods: ['client_secret_basic', 'private_key_jwt'],
    responseTypes: ['code'],
    // v9 supports only S256 (`pkce.methods` is gone); `required` makes PKCE mandatory.
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'email', 'rrn', 'roles'],
    claims: {
      sid: null,
      iss: null,
      // As ACM/IDM does, every ID token says how the user logged in (not only on request).
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      profile: PROFILE_CLAIMS,
      email: ['email'],
      rrn: ['rrn'],
      roles: ['roles'],
    },
    acrValues: ACR_VALUES,
    conformIdTokenClaims: false, // the scope's claims land in the ID token
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true },
      claimsParameter: { enabled: true },
    },
    async findAccount(_ctx, sub) {
      const entry = accounts[sub];
      if (!entry) return undefined;
      return {
        accountId: sub,
        async claims() {
          return accountClaims(sub, entry);
        },
      };
    },
    interactions: {
      policy: loginPolicy(),
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    cookies: {
      keys: ['zegel-test-op-cookie-key-0123456789abcdef'],
      long: { httpOnly: true, sameSite: 'lax', secure: false },
      short: { httpOnly: true, sameSite: 'lax', secure: false },
    },
    jwks: signingKeys(config),
    ttl: ttlSetting(config),
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  provider.on('server_error', (_ctx, error) => {
    process.stderr.write(`certified OP server_error: ${error.stack || error}\n`);
  });
  if (process.env.ZEGEL_TEST_OP_DEBUG) {
    for (const event of ['authorization.error', 'grant.error', 'end_session.error']) {
      provider.on(event, (_ctx, error) => {
        process.stderr.write(`certified OP ${event}: ${error.message} ${error.error_description || ''}\n`);
      });
    }
  }
  return provider;
}

function acrSatisfies(requested, acr) {
  if (!requested || !requested.essential) return true;
  if (Array.isArray(requested.values)) return requested.values.includes(acr);
  if (requested.value !== undefined) return requested.value === acr;
  return true;
}

async function finishLogin(provider, req, res, details, accounts) {
  const hint = details.params.login_hint;
  const accountId = hint ?? Object.keys(accounts)[0];
  const entry = accounts[accountId];
  if (!entry) {
    return provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: `unknown test account ${JSON.stringify(accountId)}`,
    }, { mergeWithLastSubmission: false });
  }
  const acr = entry.acr ?? ACR_VALUES[0];
  // An essential acr the account cannot give would make the provider ask to log in again
  // forever; answer as an OP that cannot meet it does.
  if (!acrSatisfies(details.prompt.details?.acr, acr)) {
    return provider.interactionFinished(req, res, {
      error: 'unmet_authentication_requirements',
      error_description: `account ${accountId} logs in with ${acr}`,
    }, { mergeWithLastSubmission: false });
  }
  return provider.interactionFinished(req, res, {
    login: { accountId, acr, amr: entry.amr ?? DEFAULT_AMR[acr] ?? ['pwd'], remember: true },
  }, { mergeWithLastSubmission: false });
}

async function finishConsent(provider, req, res, details) {
  const { prompt: { details: missing }, grantId, session, params } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scope] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scope.join(' '));
    }
  }
  return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, {
    mergeWithLastSubmission: true,
  });
}

function interactionHandler(provider, accounts) {
  return async (req, res) => {
    try {
      res.setHeader('Cache-Control', 'no-store');
      const details = await provider.interactionDetails(req, res);
      switch (details.prompt.name) {
        case 'login':
          return await finishLogin(provider, req, res, details, accounts);
        case 'consent':
          return await finishConsent(provider, req, res, details);
        default:
          res.writeHead(501, { 'Content-Type': 'text/plain' });
          return res.end(`prompt ${details.prompt.name} is not supported`);
      }
    } catch (error) {
      const status = error instanceof errors.OIDCProviderError ? error.statusCode : 500;
      if (status >= 500) process.stderr.write(`certified OP interaction: ${error.stack}\n`);
      res.writeHead(status, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({
        error: error.error || 'server_error',
        error_description: error.error_description || error.message,
      }));
    }
  };
}

const config = readConfig();
const requestedPort = Number(config.port ?? (config.issuer ? new URL(config.issuer).port : 0));
let handle = (_req, res) => {
  res.writeHead(503);
  res.end();
};
const server = createServer((req, res) => {
  const path = (req.url || '/').split('?')[0];
  if (path === '/healthz') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('ok');
    return;
  }
  handle(req, res, path);
});
server.on('error', (error) => fail(`cannot listen: ${error.message}`));
server.listen(requestedPort || 0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = config.issuer || `http://127.0.0.1:${port}`;
  start(issuer).catch((error) => {
    const description = error.error_description ? ` (${error.error_description})` : '';
    fail(`cannot start: ${error.message}${description}\n${error.stack}`);
  });
});

async function start(issuer) {
  const provider = buildProvider(config, issuer);
  // Static clients are validated on first use: check them now, so a bad one fails the start.
  for (const { client_id: clientId } of config.clients) {
    if (!(await provider.Client.find(String(clientId)))) fail(`client ${clientId} not loaded`);
  }
  const interaction = interactionHandler(provider, config.accounts);
  const callback = provider.callback();
  handle = (req, res, path) => (path.startsWith('/interaction/') ? interaction(req, res) : callback(req, res));
  process.stdout.write(`READY ${issuer}\n`);
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
// The Python harness keeps our stdin open and sets this, so the OP never outlives the tests.
if (process.env.ZEGEL_TEST_OP_EXIT_WITH_STDIN) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
