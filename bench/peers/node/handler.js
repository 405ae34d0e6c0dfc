// The putsecrets job written the way a Node.js developer would write it
// quickly, plainly and honestly: a custom handler that takes the request
// document, reads its Key Vault references with @azure/keyvault-secrets and
// PUTs the secrets to Graph through an @azure/core-rest-pipeline pipeline.
// `make bench` runs it behind the same host emulator and stand-ins as the
// handler (bench/peers.go says how it is started).
//
// What it skips, which the handler does: strict parsing, the allow-lists,
// literal-credential refusal, scrubbing of dependency messages, the
// replication wait, validateCredentials and the job follow-up, problem
// documents and outcome messages, log lines and time limits.
"use strict";

const http = require("node:http");
const { ManagedIdentityCredential } = require("@azure/identity");
const { SecretClient } = require("@azure/keyvault-secrets");
const {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createPipelineFromOptions,
  createPipelineRequest,
} = require("@azure/core-rest-pipeline");

const credential = new ManagedIdentityCredential();
const httpClient = createDefaultHttpClient();
const graph = createPipelineFromOptions({});
graph.addPolicy(bearerTokenAuthenticationPolicy({ credential, scopes: "https://graph.microsoft.com/.default" }));
const vaults = new Map();

function vault(url) {
  let c = vaults.get(url);
  if (!c) {
    c = new SecretClient(url, credential);
    vaults.set(url, c);
  }
  return c;
}

async function read(uri) {
  const u = new URL(uri);
  const [, , name, version] = u.pathname.split("/");
  const s = await vault(u.origin).getSecret(name, version ? { version } : {});
  return s.value;
}

async function put(doc) {
  const pairs = await Promise.all(
    doc.secrets.map(async (s) => ({
      key: s.key,
      value: s.secretUri ? await read(s.secretUri) : typeof s.value === "string" ? s.value : JSON.stringify(s.value),
    })),
  );
  const req = createPipelineRequest({
    url: `https://graph.microsoft.com/v1.0/servicePrincipals/${doc.servicePrincipalId}/synchronization/secrets`,
    method: "PUT",
    body: JSON.stringify({ value: pairs }),
  });
  req.headers.set("Content-Type", "application/json");
  const res = await graph.sendRequest(httpClient, req);
  if (res.status !== 204 && res.status !== 200) throw new Error(`graph ${res.status}`);
}

function answer(res, status, outputs) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ Outputs: outputs, Logs: [], ReturnValue: null }));
}

const server = http.createServer((req, res) => {
  if (req.method === "GET") {
    res.writeHead(200);
    res.end();
    return;
  }
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    try {
      const env = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      if (req.url === "/PutSecrets") {
        let status = 200;
        let body = '{"status":"saved"}';
        try {
          await put(JSON.parse(env.Data.req.Body));
        } catch {
          status = 502;
          body = '{"error":"failed"}';
        }
        answer(res, 200, { res: { statusCode: status, headers: { "Content-Type": "application/json" }, body } });
        return;
      }
      // Service Bus: the host sends a JSON body as a JSON string (sometimes of a JSON string).
      let msg = env.Data.message;
      while (typeof msg === "string") msg = JSON.parse(msg);
      await put(msg);
      answer(res, 200, {});
    } catch {
      answer(res, 500, {});
    }
  });
});

server.listen(Number(process.env.FUNCTIONS_CUSTOMHANDLER_PORT), "127.0.0.1");
