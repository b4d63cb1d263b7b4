// node-postgres (`pg`) scenario of the client compatibility suite.
// Prints `feature.detail: value` lines (compared with PostgreSQL's by
// compat/run-clients.py). pg sends parameters as text and reads results as
// text; named queries ({name, text}) are server-side prepared statements.
'use strict';
const { Client } = require('pg');
const { from: copyFrom, to: copyTo } = require('pg-copy-streams');
const { pipeline } = require('stream/promises');
const { Readable, Writable } = require('stream');

const env = process.env;
const base = {
  host: env.COMPAT_HOST || '127.0.0.1',
  port: Number(env.COMPAT_PORT || 5432),
  user: env.COMPAT_USER || 'compat',
  password: env.COMPAT_PASSWORD || 'compat-pw',
  database: env.COMPAT_DB || 'compat',
};

function out(key, value) {
  const v = typeof value === 'string' ? value : JSON.stringify(value);
  process.stdout.write(`${key}: ${v}\n`);
}
function err(e) {
  if (e && e.code) {
    process.stderr.write(`ERROR ${e.code}: ${e.message}\n`);
    return `ERROR ${e.code}`;
  }
  return `ERROR ${e && e.message ? e.message.split('\n')[0] : e}`;
}
async function check(key, fn) {
  try {
    out(key, await fn());
  } catch (e) {
    out(key, err(e));
  }
}
const rows = (r) => r.rows.map((x) => Object.values(x));

async function main() {
  await check('connect.tls', async () => {
    const c = new Client({ ...base, ssl: { rejectUnauthorized: false } });
    await c.connect();
    const enc = c.connection.stream.encrypted ? 'ok' : 'not encrypted';
    await c.end();
    return enc;
  });
  const c = new Client(base);
  try {
    await c.connect();
    out('connect.scram', 'ok');
  } catch (e) {
    out('connect.scram', err(e));
    return;
  }
  await c.query('DROP TABLE IF EXISTS np_items');
  await check('ddl.create', async () => (await c.query('CREATE TABLE np_items (id int PRIMARY KEY, name text, qty int)')).command);
  await check('crud.insert', async () => {
    let n = 0;
    for (const r of [[1, 'a', 10], [2, 'b', null], [3, null, 30]]) {
      n += (await c.query('INSERT INTO np_items VALUES ($1, $2, $3)', r)).rowCount;
    }
    return n;
  });
  await check('crud.update', async () => (await c.query('UPDATE np_items SET qty = qty + $1 WHERE id = $2', [5, 1])).rowCount);
  await check('crud.select', async () => rows(await c.query('SELECT * FROM np_items WHERE id >= $1 ORDER BY id', [1])));
  await check('crud.delete', async () => (await c.query('DELETE FROM np_items WHERE id = $1', [3])).rowCount);
  await check('nulls.select', async () => rows(await c.query('SELECT NULL::int AS a, $1::text AS b, NULL IS NULL AS c', [null])));

  await check('txn.rollback', async () => {
    await c.query('BEGIN');
    await c.query('INSERT INTO np_items VALUES (10, $1, 1)', ['x']);
    await c.query('ROLLBACK');
    return rows(await c.query('SELECT count(*) FROM np_items'));
  });
  await check('savepoint.rows', async () => {
    await c.query('BEGIN');
    await c.query('INSERT INTO np_items VALUES (11, $1, 1)', ['y']);
    await c.query('SAVEPOINT s1');
    try {
      await c.query('INSERT INTO np_items VALUES (1, $1, 1)', ['dup']);
    } catch (e) {
      out('savepoint.error', err(e));
    }
    await check('savepoint.aborted', async () => rows(await c.query('SELECT 1')));
    await c.query('ROLLBACK TO SAVEPOINT s1');
    await c.query('COMMIT');
    return rows(await c.query('SELECT id FROM np_items WHERE id >= 10 ORDER BY id'));
  });
  await check('prepared.reuse', async () => {
    let s = 0;
    for (let i = 0; i < 200; i++) {
      const r = await c.query({ name: 'twice', text: 'SELECT $1::int * 2 AS v', values: [i] });
      s += r.rows[0].v;
    }
    return s;
  });

  const types = [
    ['int', 'int4', -42], ['bigint', 'int8', '9007199254740993'], ['numeric', 'numeric', '12345.6789'],
    ['float', 'float8', 0.0015], ['bool', 'bool', true], ['text', 'text', "héllo 'q'"],
    ['bytea', 'bytea', Buffer.from([0, 255, 16])], ['date', 'date', '2024-02-29'],
    ['timestamptz', 'timestamptz', new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789))],
    ['interval', 'interval', '1 day 02:03:04'], ['uuid', 'uuid', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
    ['json', 'json', JSON.stringify({ k: true })], ['jsonb', 'jsonb', JSON.stringify({ a: [1, 2, null], b: 'x' })],
    ['int_array', 'int4[]', [1, null, 3]], ['text_array', 'text[]', ['a', 'b c']],
  ];
  for (const [name, cast, v] of types) {
    await check(`types.${name}.text`, async () => {
      const r = await c.query({ text: `SELECT $1::${cast} AS v`, values: [v] });
      const x = r.rows[0].v;
      if (x instanceof Date) return x.toISOString();
      if (Buffer.isBuffer(x)) return x.toString('hex');
      return JSON.stringify(x);
    });
  }
  // Binary result format (rowMode + binary: true is pg's only binary switch).
  await check('types.binary', async () => {
    const r = await c.query({ text: 'SELECT 42::int4 AS a, true AS b, $1::text AS c', values: ['t'], binary: true });
    const row = r.rows[0];
    return [Buffer.isBuffer(row.a) ? row.a.toString('hex') : row.a, Buffer.isBuffer(row.b) ? row.b.toString('hex') : row.b, String(row.c)];
  });

  await check('errors.unique', () => c.query('INSERT INTO np_items VALUES (1, $1, 0)', ['dup']));
  await check('errors.syntax', () => c.query('SELEC 1'));
  await check('errors.undefined_table', () => c.query('SELECT * FROM np_missing'));
  await check('errors.division_by_zero', () => c.query('SELECT 1/$1::int', [0]));
  await check('errors.invalid_text', () => c.query('SELECT $1::text::int', ['abc']));
  await check('errors.after_error', async () => rows(await c.query("SELECT 'alive'")));

  await c.query('DROP TABLE IF EXISTS np_copy; CREATE TABLE np_copy (id int, t text)');
  await check('copy.in', async () => {
    const s = c.query(copyFrom('COPY np_copy FROM STDIN'));
    await pipeline(Readable.from(['1\tone\n', '2\t\\N\n']), s);
    return s.rowCount;
  });
  await check('copy.out', async () => {
    const chunks = [];
    await pipeline(c.query(copyTo('COPY (SELECT * FROM np_copy ORDER BY id) TO STDOUT')), new Writable({
      write(ch, _e, cb) { chunks.push(ch); cb(); },
    }));
    return Buffer.concat(chunks).toString();
  });

  await check('cancel.query', async () => {
    // pg cancels through a second connection sending CancelRequest with
    // the backend key of `c`.
    const canceller = new Client(base);
    const p = c.query('SELECT pg_sleep(5)').then(() => 'not cancelled', (e) => err(e));
    await new Promise((r) => setTimeout(r, 500));
    await new Promise((resolve) => {
      const con = new (require('pg').Connection)();
      con.connect(base.port, base.host);
      con.on('connect', () => {
        con.cancel(c.processID, c.secretKey);
        resolve();
      });
      con.on('error', () => resolve());
    });
    void canceller;
    return p;
  });
  await check('cancel.after', async () => rows(await c.query("SELECT 'alive'")));

  await check('service.options', async () => {
    const s = new Client({ ...base, options: '-c rustydb.service=olap' });
    await s.connect();
    const r = rows(await s.query('SELECT 1'));
    await s.end();
    return r;
  });
  await c.query('DROP TABLE IF EXISTS np_items; DROP TABLE IF EXISTS np_copy');
  await c.end();
}

main().catch((e) => {
  out('scenario.aborted', err(e));
  process.exit(0);
});
