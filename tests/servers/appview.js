// A real Bluesky network on loopback for tests: PLC (in-memory) + PDS (@atproto/pds 0.4.217)
// + the real Bluesky app view (@atproto/bsky 0.0.221, with its dataplane and mock bsync),
// built from @atproto/dev-env 0.3.215's TestPlc / TestBsky / TestPds helpers.
// Ozone (moderation) is left out: dev-env's TestNetwork also starts Ozone and a second PDS,
// and asserts REDIS_HOST is set (it is never used), and binds every interface.
//
// Input (environment): DB_POSTGRES_URL (a PostgreSQL the app view may create a schema in),
//   optional DB_POSTGRES_SCHEMA (default "appview_<random letters>"; bsky allows only
//   [A-Za-z_] in a schema name).
// Output: one JSON line on stdout when everything answers:
//   {"pds": URL, "appview": URL, "appviewDid": DID, "plc": URL, "pid": PID, "startupMs": N}
// Stops on SIGTERM / SIGINT or when stdin closes.
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

// TestPds puts its data + blob dirs in os.tmpdir()/<random> and never deletes them, and the
// app view's image server uses os.tmpdir()/bsky--processed-images: give them a private
// temp dir (os.tmpdir() reads TMPDIR on every call) and remove it on stop.
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'appview-'))
process.env.TMPDIR = TMP

// Every server in here calls listen(port) (all interfaces). Bind loopback only.
const HOST = '127.0.0.1'
const origListen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    if (args.length === 1 || typeof args[1] === 'function') args.splice(1, 0, HOST)
  } else if (args[0] && typeof args[0] === 'object' && !args[0].path && !args[0].host) {
    args[0] = { ...args[0], host: HOST }
  }
  return origListen.apply(this, args)
}

const getPort = require('get-port')
const { TestPlc, TestPds, TestBsky, mockNetworkUtilities } = require('@atproto/dev-env')

async function main() {
  const t0 = Date.now()
  const dbPostgresUrl = process.env.DB_POSTGRES_URL
  if (!dbPostgresUrl) throw new Error('DB_POSTGRES_URL is not set')
  const schema =
    process.env.DB_POSTGRES_SCHEMA || 'appview_' + Array.from(crypto.randomBytes(8), (b) => String.fromCharCode(97 + (b % 26))).join('')

  const plc = await TestPlc.create({})
  const bskyPort = await getPort({ host: HOST })
  const pdsPort = await getPort({ host: HOST })

  const bsky = await TestBsky.create({
    port: bskyPort,
    plcUrl: plc.url,
    pdsPort,
    repoProvider: `ws://localhost:${pdsPort}`, // the app view's firehose subscription
    dbPostgresUrl,
    dbPostgresSchema: schema,
    // no moderation service / labeler in this network
    modServiceDid: 'did:example:invalidMod',
    labelsFromIssuerDids: [],
  })
  const pds = await TestPds.create({
    port: pdsPort,
    didPlcUrl: plc.url,
    bskyAppViewUrl: bsky.url,
    bskyAppViewDid: bsky.ctx.cfg.serverDid,
  })
  // make the app view resolve handles / PDS endpoints through this PDS (no DNS, no internet)
  mockNetworkUtilities(pds, bsky)

  let stopping = false
  const stop = async (code) => {
    if (stopping) return
    stopping = true
    try {
      await bsky.close()
      await pds.close()
      await plc.close()
      fs.rmSync(TMP, { recursive: true, force: true })
    } catch (err) {
      process.stderr.write(`appview.js: error while stopping: ${err}\n`)
    } finally {
      process.exit(code)
    }
  }
  process.on('SIGTERM', () => stop(0))
  process.on('SIGINT', () => stop(0))
  process.stdin.on('end', () => stop(0))
  process.stdin.resume()

  process.stdout.write(
    JSON.stringify({
      pds: pds.url,
      appview: bsky.url,
      appviewDid: bsky.ctx.cfg.serverDid,
      plc: plc.url,
      schema,
      pid: process.pid,
      startupMs: Date.now() - t0,
    }) + '\n',
  )
}

main().catch((err) => {
  fs.rmSync(TMP, { recursive: true, force: true })
  process.stderr.write(`appview.js: could not start: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
