// A real ArcGIS FeatureServer for tests: Koop serving every DATADIR/NAME.geojson at
// /file-geojson/rest/services/NAME/FeatureServer/0.
//
// Usage: node koop.js DATADIR [PORT]   (PORT 0 or absent: the OS picks one)
// Prints one line of JSON, {"port": N}, on stdout once it is listening on 127.0.0.1.
'use strict';

const path = require('path');
const Koop = require('@koopjs/koop-core');
const provider = require('@koopjs/provider-file-geojson');

const dataDir = process.argv[2];
const port = Number(process.argv[3] || 0);
if (!dataDir) {
  console.error('usage: node koop.js DATADIR [PORT]');
  process.exit(2);
}

// The provider joins dataDir onto the working directory, so run from the folder itself.
process.chdir(path.resolve(dataDir));
const koop = new Koop({ logLevel: 'error' });
koop.register(provider, { dataDir: '.' });

const server = koop.server.listen(port, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});

function stop() {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
