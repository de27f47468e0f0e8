// A certified OpenID provider (panva's oidc-provider) for the sign-in tests, on loopback only.
// Environment: OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI, OIDC_GROUPS_FILE.
// The groups file ({"account": ["group", ...]}) is read at every sign-in, so a test can take a
// group away and see its effect at the user's next sign-in. Any account name signs in (the
// provider's development login form); an account the file does not list has no groups.
import { readFileSync } from "node:fs";
import Provider from "oidc-provider";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const port = Number(env("OIDC_PORT"));
const groupsFile = env("OIDC_GROUPS_FILE");

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: env("OIDC_CLIENT_ID"),
      client_secret: env("OIDC_CLIENT_SECRET"),
      redirect_uris: [env("OIDC_REDIRECT_URI")],
      post_logout_redirect_uris: [env("OIDC_REDIRECT_URI").replace(/\/sso\/callback$/, "/sign-in")],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    },
  ],
  claims: { openid: ["sub"], profile: ["preferred_username", "name"], groups: ["groups"] },
  scopes: ["openid", "profile", "groups"],
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        const groups = JSON.parse(readFileSync(groupsFile, "utf8"));
        return { sub: id, preferred_username: id, name: id, groups: groups[id] ?? [] };
      },
    };
  },
});
provider.listen(port, "127.0.0.1", () => console.log(`oidc-provider listening on ${port}`));
