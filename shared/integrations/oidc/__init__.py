"""OpenID Connect: the relying party for citizens (ACM/IDM) and staff, and a sandbox provider.

- `client` — the authlib relying party both apps use to log people in.
- `levels` — authentication levels and the ACM/IDM `acr` values that reach them.
- `identities` — the test identities and authentication methods of the sandbox (and demo data).
- `sandbox` — a small OpenID Provider on loopback that stands in for ACM/IDM and a staff IdP;
  development and tests only, never mounted when ZEGEL_ENV=production.
"""
