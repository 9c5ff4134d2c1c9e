// A minimal Lambda runtime loop for the Node.js floor, on node's own http module (the official
// aws-lambda-ric needs a native build). It loads the handler named by _HANDLER ("file.export") from
// LAMBDA_TASK_ROOT, then asks the Runtime API for events forever. The managed Node.js runtime loads
// more than this at start, so this floor favours Node.
import http from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";

const api = process.env.AWS_LAMBDA_RUNTIME_API;
const base = "/2018-06-01/runtime";
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(method, route, body, headers = {}) {
  const [host, port] = api.split(":");
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port, method, path: base + route, agent, headers },
      (res) => {
        const chunks = [];
        res.on("data", (chunk) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function errorBody(error) {
  return JSON.stringify({
    errorType: error?.name ?? "Error",
    errorMessage: String(error?.message ?? error),
    stackTrace: String(error?.stack ?? "").split("\n"),
  });
}

const jsonHeaders = { "content-type": "application/json" };

let handler;
try {
  const [file, exported] = (process.env._HANDLER ?? "handler.handler").split(".");
  const root = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
  const module = await import(pathToFileURL(path.join(root, `${file}.mjs`)).href);
  handler = module[exported];
  if (typeof handler !== "function") throw new Error(`${file}.${exported} is not a function`);
} catch (error) {
  await request("POST", "/init/error", errorBody(error), jsonHeaders);
  process.exit(1);
}

for (;;) {
  const next = await request("GET", "/invocation/next");
  const id = next.headers["lambda-runtime-aws-request-id"];
  const context = {
    awsRequestId: id,
    invokedFunctionArn: next.headers["lambda-runtime-invoked-function-arn"],
    getRemainingTimeInMillis: () => Number(next.headers["lambda-runtime-deadline-ms"]) - Date.now(),
  };
  try {
    const result = await handler(JSON.parse(next.body), context);
    await request("POST", `/invocation/${id}/response`, JSON.stringify(result), jsonHeaders);
  } catch (error) {
    await request("POST", `/invocation/${id}/error`, errorBody(error), jsonHeaders);
  }
}
