// Start the Unleash server installed by install.sh. Configuration comes from the environment that
// run.sh prepares (DATABASE_URL, HTTP_PORT, AUTH_TYPE, INIT_*_API_TOKENS, SEND_TELEMETRY, CHECK_VERSION).
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = process.env.UNLEASH_SERVER_DIR || path.resolve(import.meta.dirname, '../../.cache/unleash');
const entry = path.join(dir, 'node_modules/unleash-server/dist/lib/server-impl.js');
const { start } = await import(pathToFileURL(entry).href);

const unleash = await start();
console.log(`unleash: listening on ${process.env.HTTP_HOST || ''}:${process.env.HTTP_PORT}`);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    try {
      await unleash.stop();
    } finally {
      process.exit(0);
    }
  });
}
