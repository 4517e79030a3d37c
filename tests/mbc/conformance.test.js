'use strict';
// Conformance test: the items `migrate` writes are read, updated and compared by the MBC CQRS
// Serverless framework itself (@mbc-cqrs-serverless/core, the version pinned in package.json),
// against moto. Run it with tests/mbc/run.sh (it installs the packages and checks the env).
//
// How: every test runs `migrate` on a fresh state directory, reads what it wrote with
// `query TABLE PK --dynamodb-json`, puts those items byte for byte into the framework's tables in
// moto (and copies the s3:// attribute objects), then drives the framework's own classes,
// constructed directly (no NestJS DI): DataService, HistoryService, CommandService,
// CommandEventHandler (the command saga's steps, as its Step Functions would call them).
//
// Env: MOTO_ENDPOINT (required), MIGRATE_BIN (default ../../target/debug/migrate),
// MBC_LOG=1 shows the framework's own logs.

process.env.TZ = 'UTC'; // a Lambda's zone: the framework writes dates with its local offset
process.env.AWS_ACCESS_KEY_ID = 'testing';
process.env.AWS_SECRET_ACCESS_KEY = 'testing';
process.env.AWS_REGION = 'us-east-1';
delete process.env.AWS_PROFILE;
delete process.env.AWS_SESSION_TOKEN;
// The pinned SDK supports node >= 20; its notice about future releases is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const util = require('node:util');

const {
  DynamoDBClient,
  CreateTableCommand,
  PutItemCommand,
  GetItemCommand,
  QueryCommand,
} = require('@aws-sdk/client-dynamodb');
const { S3Client, CreateBucketCommand, PutObjectCommand } = require('@aws-sdk/client-s3');
const { Logger } = require('@nestjs/common');
const core = require('@mbc-cqrs-serverless/core');
// TtlService is not re-exported by the package index of 0.1.48.
const { TtlService } = require('@mbc-cqrs-serverless/core/dist/commands/ttl.service');
const CORE_VERSION = require('@mbc-cqrs-serverless/core/package.json').version;

const MOTO = process.env.MOTO_ENDPOINT;
const MIGRATE_BIN =
  process.env.MIGRATE_BIN || path.resolve(__dirname, '..', '..', 'target', 'debug', 'migrate');
const REGION = 'us-east-1';
const APP_BUCKET = 'app-bucket';
const LOCAL_BUCKET = 'migration-local'; // the pipeline's own bucket in the embedded store
const ATTRIBUTE_LIMIT_SIZE = 2000; // the same for the framework and for `migrate`
const APP_FRAMEWORK_VERSION = '1.2.5';
const TABLE = {
  command: 'test-app-product-command',
  data: 'test-app-product-data',
  history: 'test-app-product-history',
  master: 'test-app-master-data',
};
const DATE_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/;
const ULID = '[0-9A-HJKMNP-TV-Z]{26}';
const S3_POINTER_RE = new RegExp(`^s3://${APP_BUCKET}/ddb/[^/]+/.+/${ULID}\\.json$`);
// Pipeline metadata inside `attributes` (shared/src/model.rs METADATA_ATTRIBUTES).
const isMetadataKey = (k) => /^_(migrat|source|rolledBack)/.test(k);
// Top-level fields the framework writes only when it has a value for them (marshall with
// removeUndefinedValues): absent on one side only is a note, not a difference.
const CONDITIONAL = new Set([
  'seq',
  'isDeleted',
  'source',
  'requestId',
  'createdIp',
  'updatedIp',
  'createdBy',
  'updatedBy',
]);

Logger.overrideLogger(process.env.MBC_LOG ? ['log', 'error', 'warn', 'debug', 'verbose'] : false);

const ddbClient = new DynamoDBClient({ endpoint: MOTO, region: REGION });
const s3Client = new S3Client({ endpoint: MOTO, region: REGION, forcePathStyle: true });

// What the comparisons observed, printed with each test's result.
function note(t, text) {
  for (const line of text.split('\n')) t.diagnostic(line);
}

// ---------------------------------------------------------------- framework (no DI)

function makeFramework() {
  const env = {
    NODE_ENV: 'test',
    APP_NAME: 'app',
    DYNAMODB_ENDPOINT: MOTO,
    DYNAMODB_REGION: REGION,
    S3_ENDPOINT: MOTO,
    S3_REGION: REGION,
    S3_BUCKET_NAME: APP_BUCKET,
    ATTRIBUTE_LIMIT_SIZE,
    SNS_ALARM_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:alarm',
  };
  const config = { get: (k) => env[k] };
  const s3Service = new core.S3Service(config);
  const ddb = new core.DynamoDbService(config, s3Service);
  const options = { tableName: 'product' };
  const ttlService = new TtlService(options, ddb);
  const dataService = new core.DataService(options, ddb);
  const historyService = new core.HistoryService(options, ddb, dataService, ttlService);
  const published = [];
  const sns = {
    publish: async (msg, topicArn) => {
      published.push({ msg, topicArn });
    },
  };
  const explorer = { exploreDataSyncHandlers: () => ({ dataSyncHandlers: [] }) };
  const moduleRef = { get: () => undefined };
  const commandService = new core.CommandService(
    options,
    ddb,
    explorer,
    moduleRef,
    sns,
    new core.DataSyncDdsHandler(dataService),
    dataService,
    ttlService,
  );
  commandService.onModuleInit();
  const handler = new core.CommandEventHandler(
    options,
    commandService,
    dataService,
    historyService,
    s3Service,
    sns,
    config,
  );
  assert.equal(ddb.getTableName('product', 'data'), TABLE.data);
  return { ddb, s3Service, dataService, historyService, commandService, handler, sns: published };
}

// What an API Gateway (HTTP API, JWT authorizer) request gives CommandService: a user, a request
// id; no source IP, as in a job that is not an HTTP request.
const invokeContext = {
  event: {
    headers: {},
    requestContext: {
      http: { method: 'POST', path: '/conformance' },
      authorizer: {
        jwt: {
          claims: {
            sub: 'conformance-user',
            'custom:tenant': 'conf',
            'custom:roles': '[{"role":"system_admin"}]',
          },
        },
      },
    },
  },
  context: { awsRequestId: 'conformance-request' },
};
const commandOptions = (extra = {}) => ({
  invokeContext,
  source: core.getCommandSource('ConformanceModule', 'ConformanceController', 'publish'),
  ...extra,
});

// ---------------------------------------------------------------- moto

async function resetMoto() {
  const res = await fetch(`${MOTO}/moto-api/reset`, { method: 'POST' });
  assert.ok(res.ok, `POST ${MOTO}/moto-api/reset answered ${res.status}`);
}

async function makeTables() {
  for (const name of Object.values(TABLE)) {
    await ddbClient.send(
      new CreateTableCommand({
        TableName: name,
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  }
  await s3Client.send(new CreateBucketCommand({ Bucket: APP_BUCKET }));
}

async function rawGet(table, pk, sk) {
  const { Item } = await ddbClient.send(
    new GetItemCommand({ TableName: TABLE[table], Key: { pk: { S: pk }, sk: { S: sk } } }),
  );
  return Item;
}

async function rawQuery(table, pk) {
  const { Items } = await ddbClient.send(
    new QueryCommand({
      TableName: TABLE[table],
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: pk } },
    }),
  );
  return Items;
}

// ---------------------------------------------------------------- migrate

// One temporary directory per test: `state/` (the embedded store) and the CSVs and job documents
// beside it. Removed at the end unless MBC_KEEP_STATE is set.
const tempRoots = [];
function newStateDir(name) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `mbc-conformance-${name}-`));
  tempRoots.push(root);
  const dir = path.join(root, 'state');
  fs.mkdirSync(dir);
  return dir;
}

const MIGRATE_ENV = {
  ATTRIBUTE_LIMIT_SIZE: String(ATTRIBUTE_LIMIT_SIZE),
  APP_BUCKET,
  APP_MODE_WAIT_SECONDS: '1',
  MIGRATE_LOG: 'warn',
};

/** Runs `migrate --state-dir DIR ARGS…`; returns {code, stdout, stderr, out (parsed --json)}. */
function runMigrate(stateDir, args, env = {}) {
  if (!fs.existsSync(MIGRATE_BIN)) {
    throw new Error(
      `the migrate binary is not at ${MIGRATE_BIN}: build it (cargo build -p migrate) or set MIGRATE_BIN`,
    );
  }
  const childEnv = { ...process.env, ...MIGRATE_ENV, ...env };
  // The embedded store only: no AWS endpoint of the outer test run may leak into `migrate`.
  delete childEnv.AWS_ENDPOINT_URL;
  const res = spawnSync(MIGRATE_BIN, ['--state-dir', stateDir, ...args], {
    env: childEnv,
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.error) throw res.error;
  const r = { code: res.status, signal: res.signal, stdout: res.stdout, stderr: res.stderr, args };
  r.describe = () =>
    `migrate ${args.join(' ')} → exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n` +
    `stdout: ${r.stdout.slice(0, 3000)}\nstderr: ${r.stderr.slice(0, 3000)}`;
  if (args.includes('--json')) {
    const last = r.stdout.trim().split('\n').pop();
    try {
      r.out = JSON.parse(last);
    } catch {
      r.out = undefined;
    }
  }
  return r;
}

function expectExit(r, code) {
  assert.equal(r.code, code, `expected exit ${code}\n${r.describe()}`);
}

function csvField(v) {
  const s = v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** A migration CSV: the required header plus whatever optional columns the rows use. */
function migrationCsv(rows) {
  const header = ['sourcePk', 'sourceSk', 'code', 'name', 'attributes', 'targetTenantCode'];
  for (const opt of ['isDeleted', 'version', 'seq', 'ttl', 'type']) {
    if (rows.some((r) => r[opt] !== undefined)) header.push(opt);
  }
  const lines = [header.join(',')];
  for (const r of rows) lines.push(header.map((h) => csvField(r[h])).join(','));
  return lines.join('\n') + '\n';
}

/** A product row of tenant `tenant` (source = target key). `attrs` may be raw JSON text. */
function product(tenant, sk, name, attrs, extra = {}) {
  return {
    sourcePk: `PRODUCT#${tenant}`,
    sourceSk: sk,
    code: sk,
    name,
    attributes: typeof attrs === 'string' ? attrs : JSON.stringify(attrs),
    targetTenantCode: tenant,
    ...extra,
  };
}

/** `upload FILE incoming/NAME`: the default import an S3 upload starts. */
function uploadIncoming(stateDir, name, rows, env) {
  const file = path.join(stateDir, '..', `${path.basename(stateDir)}-${name}`);
  fs.writeFileSync(file, migrationCsv(rows));
  return runMigrate(stateDir, ['--json', 'upload', file, `incoming/${name}`], env);
}

/** Stores the CSV outside incoming/ (no job), then `start`s an import job with `job` fields. */
function startImport(stateDir, jobId, rows, job = {}, env) {
  const file = path.join(stateDir, '..', `${path.basename(stateDir)}-${jobId}.csv`);
  fs.writeFileSync(file, migrationCsv(rows));
  const up = runMigrate(stateDir, ['upload', file, `data/${jobId}.csv`], env);
  expectExit(up, 0);
  const doc = {
    jobId,
    mode: 'import',
    source: { key: `data/${jobId}.csv` },
    appFrameworkVersion: APP_FRAMEWORK_VERSION,
    ...job,
  };
  const jobFile = path.join(stateDir, '..', `${path.basename(stateDir)}-${jobId}.job.json`);
  fs.writeFileSync(jobFile, JSON.stringify(doc, null, 2));
  return runMigrate(stateDir, ['--json', 'start', jobFile], env);
}

function expectSucceeded(r) {
  expectExit(r, 0);
  assert.ok(r.out, `no JSON output\n${r.describe()}`);
  assert.equal(r.out.status, 'SUCCEEDED', r.describe());
  return r.out;
}

/** A DynamoDB JSON attribute value: exactly one of the DynamoDB type keys. */
const AV_TYPES = new Set(['S', 'N', 'B', 'BOOL', 'NULL', 'M', 'L', 'SS', 'NS', 'BS']);
function assertDynamoDbJsonItem(item, where) {
  assert.ok(item && typeof item === 'object' && !Array.isArray(item), `${where}: not an object`);
  for (const [k, v] of Object.entries(item)) {
    const keys = v && typeof v === 'object' ? Object.keys(v) : [];
    assert.ok(
      keys.length === 1 && AV_TYPES.has(keys[0]),
      `${where}: field ${k} is not DynamoDB JSON: ${JSON.stringify(v)}`,
    );
  }
}

/** `query TABLE PK --dynamodb-json`: the items of one partition as DynamoDB JSON. */
function queryItems(stateDir, table, pk) {
  const r = runMigrate(stateDir, ['query', table, pk, '--dynamodb-json']);
  expectExit(r, 0);
  let items;
  try {
    items = JSON.parse(r.stdout);
  } catch (e) {
    assert.fail(`query --dynamodb-json did not print JSON: ${e.message}\n${r.describe()}`);
  }
  assert.ok(Array.isArray(items), `query --dynamodb-json did not print an array\n${r.describe()}`);
  items.forEach((it, i) => assertDynamoDbJsonItem(it, `${table} ${pk} [${i}]`));
  return items;
}

/** `get TABLE PK SK --dynamodb-json`. */
function getItemJson(stateDir, table, pk, sk) {
  const r = runMigrate(stateDir, ['get', table, pk, sk, '--dynamodb-json']);
  expectExit(r, 0);
  const item = JSON.parse(r.stdout);
  assertDynamoDbJsonItem(item, `${table} ${pk} ${sk}`);
  return item;
}

/** Copies the app-bucket objects the pipeline wrote (`DIR/s3/app-bucket/ddb/**`) into moto. */
async function copyAttributeObjects(stateDir) {
  const root = path.join(stateDir, 's3', APP_BUCKET);
  const keys = [];
  const walk = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else keys.push(path.relative(root, p).split(path.sep).join('/'));
    }
  };
  walk(path.join(root, 'ddb'));
  for (const key of keys) {
    await s3Client.send(
      new PutObjectCommand({ Bucket: APP_BUCKET, Key: key, Body: fs.readFileSync(path.join(root, key)) }),
    );
  }
  return keys;
}

/** Loads everything `migrate` holds for partition `pk` into the framework's tables in moto. */
async function loadItems(stateDir, pk, tables = ['command', 'data', 'history']) {
  const loaded = {};
  for (const table of tables) {
    loaded[table] = queryItems(stateDir, table, pk);
    for (const Item of loaded[table]) {
      await ddbClient.send(new PutItemCommand({ TableName: TABLE[table], Item }));
    }
  }
  loaded.objects = await copyAttributeObjects(stateDir);
  return loaded;
}

const bySk = (items, sk) => items.find((i) => i.sk && i.sk.S === sk);

/** Waits until the clock is in a later second than `iso` (dates are whole seconds). */
async function nextSecond(iso) {
  const after = Math.floor(Date.parse(iso) / 1000);
  while (Math.floor(Date.now() / 1000) <= after) await new Promise((r) => setTimeout(r, 50));
  return Math.floor(Date.now() / 1000) * 1000;
}

/** A command row's createdAt is the command's own (publishAsync/publishSync: `new Date()`). */
function commandCreatedAtDiff(label, cmd, startedAt, firstCreatedAt) {
  if (Date.parse(cmd.createdAt?.S) >= startedAt) return [];
  return [
    `${label}: createdAt ${cmd.createdAt?.S} is the entity's first creation (${firstCreatedAt}), not the command's own time (the framework writes new Date() on every command row)`,
  ];
}

// ---------------------------------------------------------------- the command saga, in process

/** The DynamoDB stream INSERT record of a command item, as the command table's stream has it. */
function commandInsertRecord(item) {
  const arn = `arn:aws:dynamodb:${REGION}:000000000000:table/${TABLE.command}/stream/2024-01-01T00:00:00.000`;
  return {
    eventID: `ev-${Date.now()}`,
    eventName: 'INSERT',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: REGION,
    dynamodb: {
      ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
      Keys: { pk: item.pk, sk: item.sk },
      NewImage: item,
      SequenceNumber: '100000000000000000001',
      SizeBytes: 512,
      StreamViewType: 'NEW_IMAGE',
    },
    eventSourceARN: arn,
  };
}

/**
 * Runs the framework's command saga for one command item as its state machine does:
 * check_version → set_ttl_command → history_copy → transform_data → sync_data (each handler)
 * → finish. The execution input is what DataSyncNewCommandEventHandler starts it with
 * (the record as DataSyncNewCommandEvent: the record plus `source`).
 */
async function runSaga(fw, commandItem) {
  const record = commandInsertRecord(commandItem);
  const executionInput = JSON.parse(
    JSON.stringify(new core.DataSyncNewCommandEvent().fromDynamoDBRecord(record)),
  );
  const step = (name, input) =>
    fw.handler.execute(
      new core.DataSyncCommandSfnEvent({
        input,
        context: {
          Execution: { Input: executionInput, Id: `x-${commandItem.sk.S}` },
          State: { Name: name },
          StateMachine: { Id: 'sm' },
        },
      }),
    );
  const N = core.DataSyncCommandSfnName;
  const check = await step(N.CHECK_VERSION, executionInput);
  assert.deepEqual(check, { result: 0 }, `check_version for ${commandItem.pk.S} ${commandItem.sk.S}`);
  assert.deepEqual(await step(N.SET_TTL_COMMAND, executionInput), { result: 'ok' });
  assert.deepEqual(await step(N.HISTORY_COPY, executionInput), { result: 'ok' });
  const handlers = await step(N.TRANSFORM_DATA, executionInput);
  assert.deepEqual(
    handlers.map((h) => h.result),
    ['DataSyncDdsHandler'],
  );
  const synced = [];
  for (const h of handlers) synced.push(await step(N.SYNC_DATA, { result: h.result }));
  await step(N.FINISH, executionInput);
  return synced;
}

// ---------------------------------------------------------------- shape comparison

const avType = (v) => (v === undefined ? 'absent' : Object.keys(v)[0]);

/**
 * Compares two raw items (DynamoDB JSON) field by field. Returns the differences (strings) and
 * notes (conditional fields present on one side only). `allowOursOnly` / `allowTheirsOnly`:
 * fields expected on one side only. `kind`: 'data' / 'history' rows never carry the
 * command-only fields (DataService.publish and HistoryService.publish pick their fields).
 */
function compareShape(ours, theirs, { allowOursOnly = [], allowTheirsOnly = [], kind = 'data' } = {}) {
  const diffs = [];
  const notes = [];
  const names = new Set([...Object.keys(ours), ...Object.keys(theirs)]);
  const commandOnly = kind === 'command' ? [] : ['source', 'syncMode', 'status'];
  for (const f of [...names].sort()) {
    const a = ours[f];
    const b = theirs[f];
    if (a === undefined || b === undefined) {
      const side = a === undefined ? 'framework only' : 'ours only';
      const allowed = a === undefined ? allowTheirsOnly : allowOursOnly;
      if (allowed.includes(f)) continue;
      const msg = `${side}: ${f} = ${JSON.stringify(a ?? b)}`;
      const conditional = CONDITIONAL.has(f) && !(a !== undefined && commandOnly.includes(f));
      (conditional ? notes : diffs).push(msg);
      continue;
    }
    if (avType(a) !== avType(b)) {
      diffs.push(`type of ${f}: ours ${avType(a)} ${JSON.stringify(a)}, framework ${avType(b)} ${JSON.stringify(b)}`);
    }
  }
  for (const [side, item] of [
    ['ours', ours],
    ['framework', theirs],
  ]) {
    for (const f of ['createdAt', 'updatedAt']) {
      if (item[f] && !(item[f].S && DATE_RE.test(item[f].S))) {
        diffs.push(`${side} ${f} is not a framework date (YYYY-MM-DDTHH:MM:SS±HH:MM): ${JSON.stringify(item[f])}`);
      }
    }
    for (const f of ['createdIp', 'updatedIp']) {
      if (item[f] && item[f].S === '') diffs.push(`${side} ${f} is an empty string`);
    }
  }
  // The attributes' content (pipeline metadata aside): same names, same DynamoDB types.
  if (ours.attributes?.M && theirs.attributes?.M) {
    const oa = Object.fromEntries(Object.entries(ours.attributes.M).filter(([k]) => !isMetadataKey(k)));
    if (!util.isDeepStrictEqual(oa, theirs.attributes.M)) {
      diffs.push(
        `attributes differ (metadata aside): ours ${JSON.stringify(oa)}, framework ${JSON.stringify(theirs.attributes.M)}`,
      );
    }
  }
  return { diffs, notes };
}

function reportShape(t, label, ours, theirs, opts) {
  const { diffs, notes } = compareShape(ours, theirs, opts);
  const head = `${label}\n    ours:      ${ours.pk?.S} / ${ours.sk?.S}\n    framework: ${theirs.pk?.S} / ${theirs.sk?.S}`;
  if (notes.length) note(t, `${head}\n  notes (fields the framework sets only when it has a value):\n    - ${notes.join('\n    - ')}`);
  if (diffs.length) note(t, `${head}\n  DIFFERENCES:\n    - ${diffs.join('\n    - ')}`);
  else note(t, `${head}\n  same shape (field names and types)`);
  return diffs.map((d) => `${label}: ${d}`);
}

/** Per-field types of an item, for printing. */
const typesOf = (item) =>
  Object.fromEntries(Object.keys(item).sort().map((k) => [k, avType(item[k])]));

// ---------------------------------------------------------------- tests

before(async () => {
  assert.ok(MOTO, 'MOTO_ENDPOINT is not set: run tests/mbc/run.sh with a running moto_server');
  await resetMoto();
  await makeTables();
});

after(() => {
  if (process.env.MBC_KEEP_STATE) return;
  for (const root of tempRoots) fs.rmSync(root, { recursive: true, force: true });
});

test('a. direct mode: the framework reads, lists, updates and re-publishes our rows', { timeout: 90_000 }, async (t) => {
  const fw = makeFramework();
  const dir = newStateDir('a');
  const tenant = 'conf_a';
  const pk = `PRODUCT#${tenant}`;
  const rows = [
    product(tenant, 'P001', 'Nested', { dims: { w: 10, h: 20 }, tags: ['a', 'b'], price: 162.59 }),
    product(tenant, 'P002', 'Plain', { price: 10, stock: 3 }),
    product(tenant, 'P003', 'Third', { price: 1.5, category: 'ink' }),
    product(tenant, 'P004', 'Soft deleted', { price: 2 }, { isDeleted: 'true' }),
    product(tenant, 'P005', 'Café ☕ 日本語 Ünïcödé', { note: 'ü → 🚀', price: 3 }),
    product(tenant, 'P006', 'Quoted, "name"', { empty: {}, list: [], flag: true, nothing: null }),
  ];
  const first = expectSucceeded(uploadIncoming(dir, 'a1.csv', rows));
  assert.equal(first.counts.created, 6, JSON.stringify(first));
  const second = expectSucceeded(
    startImport(dir, 'a2', [
      product(tenant, 'P001', 'Nested v2', { dims: { w: 10, h: 20 }, tags: ['a', 'b'], price: 170 }),
      product(tenant, 'P003', 'Third v2', { price: 1.75, category: 'ink' }),
    ]),
  );
  assert.equal(second.counts.updated, 2, JSON.stringify(second));

  const loaded = await loadItems(dir, pk);
  assert.equal(loaded.data.length, 6, 'data rows');
  assert.equal(loaded.command.length, 8, 'command rows (6 + 2 updates)');
  for (const sk of ['P001@1', 'P003@1']) {
    assert.ok(bySk(loaded.history, sk), `our history row ${sk} (from the data table's stream)`);
  }

  const expected = {
    P001: { version: 2, name: 'Nested v2' },
    P002: { version: 1, name: 'Plain' },
    P003: { version: 2, name: 'Third v2' },
    P004: { version: 1, name: 'Soft deleted', isDeleted: true },
    P005: { version: 1, name: 'Café ☕ 日本語 Ünïcödé' },
    P006: { version: 1, name: 'Quoted, "name"' },
  };
  for (const [sk, want] of Object.entries(expected)) {
    const item = await fw.dataService.getItem({ pk, sk });
    assert.ok(item, `DataService.getItem ${pk} ${sk}`);
    assert.equal(item.version, want.version, `${sk} version`);
    assert.equal(item.name, want.name, `${sk} name`);
    assert.equal(item.isDeleted, want.isDeleted ?? false, `${sk} isDeleted`);
    assert.ok(item.createdAt instanceof Date && !Number.isNaN(item.createdAt.valueOf()), `${sk} createdAt`);
    assert.ok(item.updatedAt instanceof Date && !Number.isNaN(item.updatedAt.valueOf()), `${sk} updatedAt`);
    assert.doesNotThrow(() => JSON.stringify(item), `${sk}: JSON.stringify`);
    assert.equal(item.id, `${pk}#${sk}`, `${sk} id`);
    assert.equal(item.tenantCode, tenant);
    assert.equal(item.cpk, pk, `${sk} cpk`);
    assert.equal(item.csk, `${sk}@${want.version}`, `${sk} csk`);
  }
  const p1 = await fw.dataService.getItem({ pk, sk: 'P001' });
  assert.deepEqual(p1.attributes.dims, { w: 10, h: 20 });
  assert.deepEqual(p1.attributes.tags, ['a', 'b']);
  const p6 = await fw.dataService.getItem({ pk, sk: 'P006' });
  assert.deepEqual([p6.attributes.empty, p6.attributes.list, p6.attributes.flag, p6.attributes.nothing], [{}, [], true, null]);

  const list = await fw.dataService.listItemsByPk(pk);
  assert.equal(list.items.length, 6, 'listItemsByPk');
  assert.ok(list.items.every((i) => i instanceof core.DataEntity));
  assert.doesNotThrow(() => JSON.stringify(list));

  for (const sk of ['P001', 'P003']) {
    const h = await fw.historyService.getItem({ pk, sk: `${sk}@1` });
    assert.ok(h, `HistoryService.getItem ${sk}@1`);
    assert.equal(h.version, 1);
    assert.doesNotThrow(() => JSON.stringify(h));
  }
  // Command rows as the framework reads them (CommandService.getItem / getLatestItem).
  const latest = await fw.commandService.getItem({ pk, sk: 'P003' });
  assert.equal(latest?.version, 2, 'CommandService.getLatestItem finds our command row @2');

  // publishPartialUpdateSync on top of our row: version + 1, deep merge keeps dims.h and tags.
  const before = await fw.dataService.getItem({ pk, sk: 'P001' });
  const updated = await fw.commandService.publishPartialUpdateSync(
    { pk, sk: 'P001', version: before.version, name: 'changed', attributes: { dims: { w: 11 } } },
    commandOptions(),
  );
  assert.equal(updated.version, before.version + 1);
  const after = await fw.dataService.getItem({ pk, sk: 'P001' });
  assert.equal(after.version, before.version + 1);
  assert.equal(after.name, 'changed');
  assert.deepEqual(after.attributes.dims, { w: 11, h: 20 }, 'mergeDeep keeps dims.h');
  assert.deepEqual(after.attributes.tags, ['a', 'b'], 'mergeDeep keeps tags');
  // (to the second: the framework writes whole seconds; test b checks our date format)
  assert.equal(Math.floor(after.createdAt / 1000), Math.floor(before.createdAt / 1000), 'createdAt kept from our row');

  // publishAsync on top of our row writes the command row at the next version.
  const p3 = await fw.dataService.getItem({ pk, sk: 'P003' });
  const cmd = await fw.commandService.publishAsync(
    {
      pk,
      sk: 'P003',
      id: p3.id,
      code: p3.code,
      name: 'async on top',
      version: p3.version,
      tenantCode: p3.tenantCode,
      type: p3.type,
      attributes: p3.attributes,
    },
    commandOptions(),
  );
  assert.ok(cmd, 'publishAsync published');
  assert.equal(cmd.version, 3);
  const row3 = await rawGet('command', pk, 'P003@3');
  assert.ok(row3, 'command row P003@3');
  assert.equal(row3.version.N, '3');
  // publishPartialUpdateAsync takes our command row as its base (0.1.48 copies every field of
  // it, syncMode included; 1.2.5 strips syncMode).
  const partial = await fw.commandService.publishPartialUpdateAsync(
    { pk, sk: 'P005', version: 1, name: 'partial async' },
    commandOptions(),
  );
  assert.equal(partial?.version, 2, 'publishPartialUpdateAsync on top of our command row @1');
  const row5 = await rawGet('command', pk, 'P005@2');
  assert.equal(row5.name.S, 'partial async');
  assert.equal(row5.attributes.M.note.S, 'ü → 🚀');
  note(t, `0.1.48 publishPartialUpdateAsync over our direct row: new command row syncMode=${JSON.stringify(row5.syncMode)} status=${JSON.stringify(row5.status)}`);

  // What an app older than core 1.1.4 (like 0.1.48, whose DefaultEventFactory does not look at
  // syncMode) would do with our direct-mode command rows: start its saga, whose check_version
  // fails (-1) and raises an alarm. This is why `direct` is refused below 1.1.4.
  const ours = await rawGet('command', pk, 'P002@1');
  assert.equal(ours.syncMode?.S, 'SYNC', 'our direct-mode command row has syncMode SYNC');
  const ev = new core.DataSyncCommandSfnEvent({
    context: {
      Execution: { Input: JSON.parse(JSON.stringify(new core.DataSyncNewCommandEvent().fromDynamoDBRecord(commandInsertRecord(ours)))), Id: 'old-app' },
      State: { Name: core.DataSyncCommandSfnName.CHECK_VERSION },
      StateMachine: { Id: 'sm' },
    },
  });
  const res = await fw.handler.execute(ev);
  assert.equal(res.result, -1, 'an old app would fail check_version on a direct-mode row');
  assert.ok(fw.sns.some((p) => p.msg.action === 'sfn-alarm'), 'and raise an alarm');
  // And so `migrate` refuses direct mode for this very framework version, before any write.
  const old = startImport(dir, 'a-old-app', [product(tenant, 'P900', 'Never written', { price: 1 })], {
    appFrameworkVersion: CORE_VERSION,
  });
  assert.notEqual(old.code, 0, `direct mode with appFrameworkVersion ${CORE_VERSION} must be refused\n${old.describe()}`);
  assert.match(old.stdout + old.stderr, /1\.1\.4/, `the refusal names 1.1.4\n${old.describe()}`);
  assert.equal(bySk(queryItems(dir, 'data', pk), 'P900'), undefined, 'nothing written');
});

test('b. item shape: our data, command and history rows against the framework\'s own', { timeout: 90_000 }, async (t) => {
  const fw = makeFramework();
  const dir = newStateDir('b');
  const tenant = 'conf_b';
  const pk = `PRODUCT#${tenant}`;
  // Every JSON shape an app's attributes may hold: nested maps, lists (of mixed values), empty
  // ones, null, an empty string, booleans, negative / zero / decimal / largest safe numbers.
  const attrs1 = {
    dims: { w: 10, h: 20 },
    tags: ['a', 'b'],
    mixed: [1, 'two', { three: 3 }, [4], null, true],
    price: 162.59,
    stock: 7,
    neg: -0.5,
    zero: 0,
    maxSafe: 9007199254740991,
    active: true,
    none: null,
    blank: '',
    empty: {},
    list: [],
    text: 'ü → 🚀 "quoted", comma',
  };
  const attrs2 = { ...attrs1, price: 170, stock: 8 };
  expectSucceeded(
    startImport(dir, 'b1', [
      product(tenant, 'P100', 'Shape', attrs1),
      product(tenant, 'P101', 'With seq and ttl', { price: 1 }, { seq: '5', ttl: '1900000000' }),
    ]),
  );
  const v1 = await loadItems(dir, pk, ['command', 'data']);
  const ourData1 = bySk(v1.data, 'P100');
  const ourCmd1 = bySk(v1.command, 'P100@1');
  assert.ok(ourData1 && ourCmd1, 'our data row and command row @1');
  note(t, `our data row @1 types: ${JSON.stringify(typesOf(ourData1))}`);
  note(t, `our command row @1 types: ${JSON.stringify(typesOf(ourCmd1))}`);

  const entity = (sk, attributes, version) => ({
    pk,
    sk,
    id: core.generateId(pk, sk),
    code: 'P100',
    name: 'Shape',
    version,
    tenantCode: tenant,
    type: 'PRODUCT',
    isDeleted: false,
    attributes,
  });
  // The framework's publishSync (0.1.48 writes the data row only) and publishAsync + its saga.
  await fw.commandService.publishSync(entity('P100-sync', attrs1, 0), commandOptions());
  const fwSyncData1 = await rawGet('data', pk, 'P100-sync');
  await fw.commandService.publishAsync(entity('P100-async', attrs1, 0), commandOptions());
  const fwAsyncCmd1 = await rawGet('command', pk, 'P100-async@1'); // before its saga: publishAsync's row
  await runSaga(fw, fwAsyncCmd1);
  const fwAsyncData1 = await rawGet('data', pk, 'P100-async');

  const differences = [];
  const STATUS_RE = /^[a-z_]+:(STARTED|FINISHED|FAILED)$/;
  differences.push(...reportShape(t, 'data row v1 vs framework publishSync', ourData1, fwSyncData1));
  differences.push(...reportShape(t, 'data row v1 vs framework publishAsync + saga', ourData1, fwAsyncData1));
  differences.push(
    ...reportShape(t, 'direct-mode command row @1 vs framework publishAsync row', ourCmd1, fwAsyncCmd1, {
      allowOursOnly: ['syncMode', 'status'],
      kind: 'command',
    }),
  );
  if (ourCmd1.syncMode?.S !== 'SYNC') differences.push(`command row: syncMode is ${JSON.stringify(ourCmd1.syncMode)}, want {"S":"SYNC"}`);
  if (!(ourCmd1.status?.S && STATUS_RE.test(ourCmd1.status.S))) {
    differences.push(`command row: status is ${JSON.stringify(ourCmd1.status)}, want a framework status like "finish:FINISHED"`);
  } else {
    note(t, `our direct-mode command row status = ${ourCmd1.status.S} (1.2.5 publishSync ends at "finish:FINISHED")`);
  }
  note(
    t,
    `csk: ours ${ourData1.csk?.S}; framework publishSync ${fwSyncData1.csk?.S} (publishSync passes the unversioned sk); saga ${fwAsyncData1.csk?.S}`,
  );

  // Version 2: ours (second import) against the framework's update by the same two paths.
  const b2Started = await nextSecond(ourData1.createdAt.S);
  expectSucceeded(startImport(dir, 'b2', [product(tenant, 'P100', 'Shape', attrs2)]));
  const v2 = await loadItems(dir, pk, ['command', 'data', 'history']);
  const ourData2 = bySk(v2.data, 'P100');
  const ourCmd2 = bySk(v2.command, 'P100@2');
  const ourHist1 = bySk(v2.history, 'P100@1');
  assert.ok(ourData2 && ourCmd2 && ourHist1, 'our data v2, command @2, history @1');
  await fw.commandService.publishSync({ ...entity('P100-sync', attrs2, 1) }, commandOptions());
  const fwSyncData2 = await rawGet('data', pk, 'P100-sync');
  await fw.commandService.publishAsync(entity('P100-async', attrs2, 1), commandOptions());
  const fwAsyncCmd2 = await rawGet('command', pk, 'P100-async@2');
  await runSaga(fw, fwAsyncCmd2);
  const fwAsyncData2 = await rawGet('data', pk, 'P100-async');
  const fwHist1 = await rawGet('history', pk, 'P100-async@1');
  assert.ok(fwHist1, 'the framework saga wrote history @1');
  differences.push(...reportShape(t, 'data row v2 vs framework publishSync', ourData2, fwSyncData2));
  differences.push(...reportShape(t, 'data row v2 vs framework publishAsync + saga', ourData2, fwAsyncData2));
  differences.push(
    ...reportShape(t, 'direct-mode command row @2 vs framework publishAsync row', ourCmd2, fwAsyncCmd2, {
      allowOursOnly: ['syncMode', 'status'],
      kind: 'command',
    }),
  );
  differences.push(...reportShape(t, 'history row @1 vs framework saga history_copy', ourHist1, fwHist1));
  if (ourData2.createdAt?.S !== ourData1.createdAt?.S) differences.push('data v2 does not keep v1 createdAt');
  if (ourData2.requestId?.S !== ourCmd2.requestId?.S) {
    differences.push(`data v2 requestId ${JSON.stringify(ourData2.requestId)} is not its command's ${JSON.stringify(ourCmd2.requestId)} (DataService.publish copies cmd.requestId)`);
  }
  if (Date.parse(ourData2.updatedAt?.S) < b2Started) differences.push(`data v2 updatedAt ${ourData2.updatedAt?.S} is not the update's time`);
  differences.push(...commandCreatedAtDiff('direct-mode command row @2', ourCmd2, b2Started, ourData1.createdAt.S));
  if (ourHist1.version?.N !== '1') differences.push(`history @1 has version ${JSON.stringify(ourHist1.version)}`);

  // seq and ttl given by the row: numbers, as the framework writes what the app passes.
  const withSeq = { ...entity('P101-fw', { price: 1 }, 0), code: 'P101', name: 'With seq and ttl', seq: 5, ttl: 1900000000 };
  await fw.commandService.publishAsync(withSeq, commandOptions());
  const fwSeqCmd = await rawGet('command', pk, 'P101-fw@1');
  await runSaga(fw, fwSeqCmd);
  const ourSeq = await loadItems(dir, pk, ['command', 'data']);
  differences.push(...reportShape(t, 'data row with seq/ttl vs framework publishAsync + saga', bySk(ourSeq.data, 'P101'), await rawGet('data', pk, 'P101-fw')));
  differences.push(
    ...reportShape(t, 'command row with seq/ttl vs framework publishAsync row', bySk(ourSeq.command, 'P101@1'), fwSeqCmd, {
      allowOursOnly: ['syncMode', 'status'],
      kind: 'command',
    }),
  );
  for (const f of ['seq', 'ttl']) {
    const v = bySk(ourSeq.data, 'P101')[f];
    if (!(v && v.N === (f === 'seq' ? '5' : '1900000000'))) differences.push(`data row P101 ${f} is ${JSON.stringify(v)}`);
  }

  if (differences.length) assert.fail(`our items differ from the framework's:\n  - ${differences.join('\n  - ')}`);
});

test('c. unsafeNumbers: reject (default), string, keep', { timeout: 90_000 }, async (t) => {
  const fw = makeFramework();
  const tenant = 'conf_c';
  const pk = `PRODUCT#${tenant}`;
  const unsafe =
    '{"precise": 12345678901234567890123456789012345678, "big": 9007199254740993, "exp": 1.5E+30, "frac": 12345678901234567890.12345, "ok": 162.59}';

  // reject (default): the job fails, nothing is written, rejected.csv names the attribute.
  const dirR = newStateDir('c-reject');
  const r = startImport(dirR, 'c-reject', [product(tenant, 'P200-reject', 'Unsafe', unsafe)]);
  expectExit(r, 1);
  assert.equal(r.out?.status, 'FAILED', r.describe());
  assert.ok(r.out.counts.rejected >= 1, `counts.rejected\n${r.describe()}`);
  assert.equal(r.out.counts.created + r.out.counts.updated, 0, 'nothing written');
  assert.deepEqual(queryItems(dirR, 'data', pk), [], 'no data row');
  assert.deepEqual(queryItems(dirR, 'command', pk), [], 'no command row');
  const rejectedKey = r.out.rejectedKey || 'jobs/c-reject/rejected.csv';
  const rejectedPath = path.join(dirR, 's3', LOCAL_BUCKET, rejectedKey);
  assert.ok(fs.existsSync(rejectedPath), `${rejectedPath} exists`);
  const rejected = fs.readFileSync(rejectedPath, 'utf8');
  assert.match(rejected, /precise|big|exp|frac/, `rejected.csv names the attribute:\n${rejected}`);
  note(t, `rejected.csv (reject):\n${rejected.trim()}`);

  // string: stored as strings with the exact digits; the framework reads and re-publishes them.
  const dirS = newStateDir('c-string');
  expectSucceeded(startImport(dirS, 'c-string', [product(tenant, 'P200-string', 'Unsafe', unsafe)], { unsafeNumbers: 'string' }));
  await loadItems(dirS, pk);
  const s = await fw.dataService.getItem({ pk, sk: 'P200-string' });
  assert.ok(s, 'DataService.getItem');
  assert.equal(s.attributes.precise, '12345678901234567890123456789012345678');
  assert.equal(s.attributes.big, '9007199254740993');
  assert.equal(s.attributes.frac, '12345678901234567890.12345');
  assert.equal(typeof s.attributes.exp, 'string', `exp as a string: ${util.inspect(s.attributes.exp)}`);
  assert.equal(Number(s.attributes.exp), 1.5e30);
  note(t, `unsafeNumbers=string: exp 1.5E+30 is stored as ${JSON.stringify(s.attributes.exp)}`);
  assert.equal(s.attributes.ok, 162.59, 'a safe number stays a number');
  assert.doesNotThrow(() => JSON.stringify(s));
  const s2 = await fw.commandService.publishPartialUpdateSync(
    { pk, sk: 'P200-string', version: s.version, name: 'Unsafe, updated by the app' },
    commandOptions(),
  );
  assert.equal(s2.version, s.version + 1);
  const s3 = await fw.dataService.getItem({ pk, sk: 'P200-string' });
  assert.equal(s3.attributes.precise, '12345678901234567890123456789012345678');

  // keep: the exact digits are in the item; JavaScript readers get a BigInt or an error.
  const dirK = newStateDir('c-keep');
  expectSucceeded(
    startImport(
      dirK,
      'c-keep',
      [
        product(tenant, 'P200-keep', 'Unsafe', unsafe),
        product(tenant, 'P201-keep', 'Integers only', '{"precise": 12345678901234567890123456789012345678, "big": 9007199254740993, "round": 0.1234567890123456789, "ok": 162.59}'),
      ],
      { unsafeNumbers: 'keep' },
    ),
  );
  const raw = getItemJson(dirK, 'data', pk, 'P200-keep');
  assert.deepEqual(raw.attributes.M.precise, { N: '12345678901234567890123456789012345678' });
  assert.deepEqual(raw.attributes.M.big, { N: '9007199254740993' });
  assert.deepEqual(raw.attributes.M.frac, { N: '12345678901234567890.12345' });
  assert.equal(avType(raw.attributes.M.exp), 'N');
  await loadItems(dirK, pk);
  const inMoto = await rawGet('data', pk, 'P200-keep');
  assert.deepEqual(inMoto.attributes.M.precise, { N: '12345678901234567890123456789012345678' }, '38 digits in DynamoDB');
  // The documented JavaScript behaviour (README / DESIGN §3), proven on the framework:
  await assert.rejects(
    fw.dataService.getItem({ pk, sk: 'P200-keep' }),
    /can't be converted to BigInt/,
    'a decimal beyond 2^53 makes DataService.getItem throw',
  );
  const k = await fw.dataService.getItem({ pk, sk: 'P201-keep' });
  assert.equal(typeof k.attributes.precise, 'bigint');
  assert.equal(k.attributes.precise, 12345678901234567890123456789012345678n);
  assert.equal(k.attributes.big, 9007199254740993n);
  assert.equal(k.attributes.round, 0.12345678901234568, 'a long decimal is silently rounded');
  assert.throws(() => JSON.stringify(k), /BigInt/, 'JSON.stringify of the entity throws (the API answers 500)');
  await assert.rejects(
    fw.commandService.publishPartialUpdateSync(
      { pk, sk: 'P201-keep', version: k.version, name: 'x' },
      commandOptions(),
    ),
    /BigInt/,
    'every later publish of the entity throws',
  );
});

test('d. app mode: our command rows run through the framework\'s own saga', { timeout: 90_000 }, async (t) => {
  const fw = makeFramework();
  const dir = newStateDir('d');
  const tenant = 'conf_d';
  const pk = `PRODUCT#${tenant}`;
  const attrs1 = { dims: { w: 1, h: 2 }, tags: ['x'], price: 5 };
  const attrs2 = { dims: { w: 1, h: 3 }, tags: ['x', 'y'], price: 6 };
  // Version 1 of P300 by a direct job; then an app-mode job: P300 → version 2, P301 new.
  expectSucceeded(startImport(dir, 'd1', [product(tenant, 'P300', 'App update', attrs1)]));
  const d1Created = getItemJson(dir, 'data', pk, 'P300').createdAt.S;
  const d2Started = await nextSecond(d1Created);
  const r = startImport(
    dir,
    'd2',
    [product(tenant, 'P300', 'App update', attrs2), product(tenant, 'P301', 'App new', attrs1)],
    { publishMode: 'app' },
  );
  expectExit(r, 1);
  assert.equal(r.out?.status, 'FAILED', r.describe());
  assert.ok(r.out.counts.failed > 0, `counts.failed > 0\n${r.describe()}`);
  let reason = r.stderr;
  if (r.out.reportKey) {
    const p = path.join(dir, 's3', LOCAL_BUCKET, r.out.reportKey);
    if (fs.existsSync(p)) reason += fs.readFileSync(p, 'utf8');
  }
  assert.match(reason, /saga|time(d)?[ -]?out|wait/i, `the failure names the saga/timeout:\n${reason.slice(0, 3000)}`);

  const loaded = await loadItems(dir, pk);
  const ourCmd2 = bySk(loaded.command, 'P300@2');
  const ourCmdNew = bySk(loaded.command, 'P301@1');
  assert.ok(ourCmd2 && ourCmdNew, 'our app-mode command rows P300@2 and P301@1');
  assert.equal(bySk(loaded.data, 'P300')?.version?.N, '1', 'data P300 still at version 1 (no saga ran)');
  assert.equal(bySk(loaded.data, 'P301'), undefined, 'no data row for P301 (no saga ran)');

  // The framework's own rows for the same entities: publishAsync (+ saga for version 1 first).
  const entity = (sk, name, attributes, version) => ({
    pk,
    sk,
    id: core.generateId(pk, sk),
    code: sk.replace('-fw', ''),
    name,
    version,
    tenantCode: tenant,
    type: 'PRODUCT',
    isDeleted: false,
    attributes,
  });
  await fw.commandService.publishAsync(entity('P300-fw', 'App update', attrs1, 0), commandOptions());
  await runSaga(fw, await rawGet('command', pk, 'P300-fw@1'));
  await fw.commandService.publishAsync(entity('P300-fw', 'App update', attrs2, 1), commandOptions());
  const fwCmd2 = await rawGet('command', pk, 'P300-fw@2');
  await fw.commandService.publishAsync(entity('P301-fw', 'App new', attrs1, 0), commandOptions());
  const fwCmdNew = await rawGet('command', pk, 'P301-fw@1');

  const differences = [];
  differences.push(...reportShape(t, 'app-mode command row (update @2) vs framework publishAsync row', ourCmd2, fwCmd2, { kind: 'command' }));
  differences.push(...reportShape(t, 'app-mode command row (new @1) vs framework publishAsync row', ourCmdNew, fwCmdNew, { kind: 'command' }));
  differences.push(...commandCreatedAtDiff('app-mode command row @2', ourCmd2, d2Started, d1Created));
  for (const c of [ourCmd2, ourCmdNew]) {
    if (c.syncMode) differences.push(`app-mode command ${c.sk.S} has syncMode ${JSON.stringify(c.syncMode)}`);
    if (c.status) differences.push(`app-mode command ${c.sk.S} has status ${JSON.stringify(c.status)} (publishAsync writes none)`);
  }

  // The saga, in process, on our rows and on the framework's.
  for (const c of [ourCmd2, ourCmdNew, fwCmd2, fwCmdNew]) await runSaga(fw, c);
  for (const [c, sk, version] of [
    [ourCmd2, 'P300', 2],
    [ourCmdNew, 'P301', 1],
  ]) {
    const d = await fw.dataService.getItem({ pk, sk });
    assert.equal(d?.version, version, `data ${sk} at the command's version`);
    assert.equal(d.cpk, c.pk.S, `data ${sk} cpk`);
    assert.equal(d.csk, c.sk.S, `data ${sk} csk`);
    assert.doesNotThrow(() => JSON.stringify(d));
  }
  const histOurs = await fw.historyService.getItem({ pk, sk: 'P300@1' });
  assert.equal(histOurs?.version, 1, 'history P300@1 written by the framework from our data v1');
  const cmdAfter = await rawGet('command', pk, 'P300@2');
  note(t, `after the saga our command row's status is ${JSON.stringify(cmdAfter.status)}`);

  differences.push(
    ...reportShape(t, 'data row after the saga (our command @2) vs framework', await rawGet('data', pk, 'P300'), await rawGet('data', pk, 'P300-fw')),
  );
  differences.push(
    ...reportShape(t, 'data row after the saga (our command @1) vs framework', await rawGet('data', pk, 'P301'), await rawGet('data', pk, 'P301-fw')),
  );
  differences.push(
    ...reportShape(t, 'history @1 (saga over our data v1) vs framework', await rawGet('history', pk, 'P300@1'), await rawGet('history', pk, 'P300-fw@1')),
  );
  if (differences.length) assert.fail(`our app-mode items differ from the framework's:\n  - ${differences.join('\n  - ')}`);
});

test('e. attributes larger than ATTRIBUTE_LIMIT_SIZE live in S3 as the framework keeps them', { timeout: 90_000 }, async (t) => {
  const fw = makeFramework();
  const dir = newStateDir('e');
  const tenant = 'conf_e';
  const pk = `PRODUCT#${tenant}`;
  const big = {
    description: 'x'.repeat(4000),
    items: Array.from({ length: 40 }, (_, i) => ({ n: i, label: `item ${i} ü` })),
    price: 162.59,
  };
  assert.ok(Buffer.byteLength(JSON.stringify(big)) > 4500, 'about 5 KB of attributes');
  const big2 = { ...big, price: 171 };
  expectSucceeded(startImport(dir, 'e1', [product(tenant, 'P500', 'Large', big)]));
  expectSucceeded(startImport(dir, 'e2', [product(tenant, 'P500', 'Large', big2)]));
  const loaded = await loadItems(dir, pk);
  const data = bySk(loaded.data, 'P500');
  const cmd = bySk(loaded.command, 'P500@2');
  const hist = bySk(loaded.history, 'P500@1');
  assert.ok(data && cmd && hist, 'our data v2, command @2, history @1');
  for (const [what, item] of [
    ['data', data],
    ['command', cmd],
    ['history', hist],
  ]) {
    assert.equal(avType(item.attributes), 'S', `${what} attributes is a pointer: ${JSON.stringify(item.attributes).slice(0, 200)}`);
    assert.match(item.attributes.S, S3_POINTER_RE, `${what} pointer`);
    note(t, `our ${what} row pointer: ${item.attributes.S}`);
  }
  assert.notEqual(data.attributes.S, cmd.attributes.S, 'one object per item');
  assert.ok(loaded.objects.length >= 3, `objects copied: ${loaded.objects.join(', ')}`);

  const content = (attributes) => Object.fromEntries(Object.entries(attributes).filter(([k]) => !isMetadataKey(k)));
  const d = await fw.dataService.getItem({ pk, sk: 'P500' });
  assert.deepEqual(content(d.attributes), big2, 'DataService.getItem resolves the pointer to the full attributes');
  const c = await fw.commandService.getItem({ pk, sk: 'P500@2' });
  assert.deepEqual(content(c.attributes), big2, 'CommandService.getItem resolves it too');
  const c1 = await fw.commandService.getItem({ pk, sk: 'P500@1' });
  assert.deepEqual(content(c1.attributes), big, 'and command @1');
  const h = await fw.historyService.getItem({ pk, sk: 'P500@1' });
  assert.deepEqual(content(h.attributes), big, 'HistoryService.getItem resolves history @1');
  assert.doesNotThrow(() => JSON.stringify([d, c, h]));

  // The framework updates on top of it (and offloads again).
  const u = await fw.commandService.publishPartialUpdateSync(
    { pk, sk: 'P500', version: d.version, attributes: { price: 170 } },
    commandOptions(),
  );
  assert.equal(u.version, 3);
  const d2 = await fw.dataService.getItem({ pk, sk: 'P500' });
  assert.equal(d2.attributes.price, 170);
  assert.equal(d2.attributes.description, big.description);

  // The framework's own pointer for the same entity, for comparison.
  await fw.commandService.publishSync(
    { pk, sk: 'P500-fw', id: core.generateId(pk, 'P500-fw'), code: 'P500', name: 'Large', version: 0, tenantCode: tenant, type: 'PRODUCT', isDeleted: false, attributes: big },
    commandOptions(),
  );
  const fwData = await rawGet('data', pk, 'P500-fw');
  assert.match(fwData.attributes.S, S3_POINTER_RE);
  note(t, `framework data row pointer: ${fwData.attributes.S}`);
  const ourTable = data.attributes.S.split('/')[4];
  if (ourTable !== TABLE.data) {
    note(t, `pointer table segment: ours "${ourTable}", framework "${TABLE.data}" (the framework never parses it)`);
  }
  const differences = reportShape(t, 'data row with an s3 pointer vs framework publishSync', data, fwData);
  if (differences.length) assert.fail(`our items differ from the framework's:\n  - ${differences.join('\n  - ')}`);
});
