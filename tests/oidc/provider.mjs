// An OpenID provider on loopback for the single sign-on tests: node's oidc-provider with
// one confidential client, accounts the test registers, and a one-step sign-in page.
//
//   node provider.mjs <port> <redirect_uri> <client_id> <client_secret>
//
// Prints "ready <issuer>" once listening. The test chooses a person's claims with
// POST /test/accounts {"sub": ..., "email": ..., "email_verified": ..., "groups": [...]};
// the sign-in page (GET /interaction/:uid) asks only for that subject, and submitting it
// grants the scopes the client asked for, so no separate consent step.
import http from "node:http";
import { URLSearchParams } from "node:url";
import Provider from "oidc-provider";

const [port, redirectUri, clientId, clientSecret] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const accounts = new Map();

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  // The claims travel in the ID token itself (the app reads no userinfo endpoint).
  conformIdTokenClaims: false,
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    groups: ["groups"],
  },
  scopes: ["openid", "email", "groups"],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ["test-only-cookie-key"] },
  async findAccount(ctx, sub) {
    const account = accounts.get(sub);
    if (!account) return undefined;
    return { accountId: sub, async claims() { return { sub, ...account } } };
  },
});

function readBody(req) {
  return new Promise((resolve) => {
    let data = "";
    req.on("data", (chunk) => { data += chunk; });
    req.on("end", () => resolve(data));
  });
}

const page = (uid) => `<!doctype html><html lang="en"><head><title>Test provider sign-in</title></head>
<body><main><h1>Test provider</h1>
<form method="post" action="/interaction/${uid}/login">
<label for="subject">Subject</label><input id="subject" name="subject" required>
<button type="submit">Continue</button></form></main></body></html>`;

async function interaction(req, res, uid) {
  if (req.method === "GET") {
    await provider.interactionDetails(req, res);
    res.writeHead(200, { "content-type": "text/html" });
    res.end(page(uid));
    return;
  }
  const details = await provider.interactionDetails(req, res);
  const subject = new URLSearchParams(await readBody(req)).get("subject") || "";
  if (!accounts.has(subject)) {
    res.writeHead(400, { "content-type": "text/plain" });
    res.end(`unknown subject ${subject}`);
    return;
  }
  const grant = new provider.Grant({ accountId: subject, clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope));
  const grantId = await grant.save();
  await provider.interactionFinished(
    req, res, { login: { accountId: subject }, consent: { grantId } }, { mergeWithLastSubmission: false },
  );
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (url.pathname === "/test/accounts" && req.method === "POST") {
      const account = JSON.parse(await readBody(req));
      const { sub, ...claims } = account;
      accounts.set(sub, claims);
      res.writeHead(204);
      res.end();
      return;
    }
    const match = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
    if (match) {
      await interaction(req, res, match[1]);
      return;
    }
    callback(req, res);
  } catch (err) {
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(String(err));
  }
});
server.listen(Number(port), "127.0.0.1", () => console.log(`ready ${issuer}`));
