// A real Bluesky PDS (@atproto/pds) with an in-memory PLC directory (@did-plc/server),
// both on 127.0.0.1, for the test suite. Started by tests/servers/pds.py.
//
// Input (environment): PDS_DATA_DIRECTORY and PDS_BLOBSTORE_DISK_LOCATION (temp dirs),
// PDS_ADMIN_PASSWORD, PDS_JWT_SECRET. Everything else is fixed here.
// Output: one JSON line on stdout when both servers answer:
//   {"pds": "http://localhost:PORT", "plc": "http://127.0.0.1:PORT", "pid": PID}
// Stops cleanly on SIGTERM / SIGINT, or when stdin closes (the parent went away).
'use strict'

const crypto = require('node:crypto')
const http = require('node:http')
const net = require('node:net')

const { PlcServer, Database } = require('@did-plc/server')
const { PDS, envToCfg, envToSecrets, readEnv } = require('@atproto/pds')

const HOST = '127.0.0.1'

// Express's app.listen(port) binds every interface; bind loopback only.
function listenOnLoopback(app) {
  app.listen = (port) => http.createServer(app).listen(port, HOST)
}

// The PDS writes its own URL (with the port) into DID documents, so it needs a concrete
// port before it is created: ask the OS for a free one.
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, HOST, () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

async function main() {
  const plc = PlcServer.create({ db: Database.mock(), port: 0 })
  listenOnLoopback(plc.app)
  const plcServer = await plc.start()
  const plcUrl = `http://${HOST}:${plcServer.address().port}`

  const pdsPort = await freePort()
  Object.assign(process.env, {
    PDS_HOSTNAME: 'localhost',
    PDS_PORT: String(pdsPort),
    PDS_DEV_MODE: 'true',
    PDS_INVITE_REQUIRED: 'false',
    PDS_DID_PLC_URL: plcUrl,
    PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: crypto.randomBytes(32).toString('hex'),
    PDS_JWT_SECRET: process.env.PDS_JWT_SECRET || crypto.randomBytes(16).toString('hex'),
    PDS_ADMIN_PASSWORD: process.env.PDS_ADMIN_PASSWORD || crypto.randomBytes(16).toString('hex'),
  })
  const env = readEnv()
  env.version = env.version || '0.4.217'
  const pds = await PDS.create(envToCfg(env), envToSecrets(env))
  listenOnLoopback(pds.app)
  await pds.start()

  let stopping = false
  const stop = async (code) => {
    if (stopping) return
    stopping = true
    try {
      await pds.destroy()
      await plc.destroy()
    } finally {
      process.exit(code)
    }
  }
  process.on('SIGTERM', () => stop(0))
  process.on('SIGINT', () => stop(0))
  process.stdin.on('end', () => stop(0))
  process.stdin.resume()

  process.stdout.write(
    JSON.stringify({ pds: `http://localhost:${pdsPort}`, plc: plcUrl, pid: process.pid }) + '\n',
  )
}

main().catch((err) => {
  process.stderr.write(`pds.js: could not start: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
