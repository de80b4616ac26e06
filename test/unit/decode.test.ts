// Control plane: replies framed by the reply parser, decoded into values (Sentinel answers, ROLE); Ring.pop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisReplyParser } from '../../src/protocol/redis/reply';
import { OK } from '../../src/protocol/parse';
import { decodeReply, fieldMap, RespError, type RespValue } from '../../src/protocol/redis/decode';
import { Ring } from '../../src/util/ring';

function decode(text: string): RespValue {
  const buf = Buffer.from(text, 'utf8');
  const p = new RedisReplyParser();
  assert.equal(p.parse(buf, 0), OK);
  assert.equal(p.end, buf.length);
  return decodeReply(buf, 0);
}

test('decode: every RESP2 type, nested, nil', () => {
  assert.equal(decode('+OK\r\n'), 'OK');
  assert.deepEqual(decode('-ERR No such master with that name\r\n'), new RespError('ERR No such master with that name'));
  assert.equal(decode(':-42\r\n'), -42);
  assert.equal(decode('$4\r\nhé!\r\n'), 'hé!');
  assert.equal(decode('$0\r\n\r\n'), '');
  assert.equal(decode('$-1\r\n'), null);
  assert.equal(decode('*-1\r\n'), null);
  assert.deepEqual(decode('*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n'), ['127.0.0.1', '6379']);
  assert.deepEqual(decode('*3\r\n$6\r\nmaster\r\n:3129659\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n9001\r\n$7\r\n3129242\r\n'), [
    'master',
    3129659,
    [['127.0.0.1', '9001', '3129242']],
  ]);
  // a bulk string may hold CR LF
  assert.equal(decode('$4\r\na\r\nb\r\n'), 'a\r\nb');
});

test('decode: SENTINEL MASTER / REPLICAS field lists as maps', () => {
  const v = decode('*6\r\n$4\r\nname\r\n$6\r\nshard1\r\n$5\r\nflags\r\n$13\r\nmaster,s_down\r\n$12\r\nconfig-epoch\r\n$1\r\n7\r\n');
  assert.deepEqual([...fieldMap(v)], [['name', 'shard1'], ['flags', 'master,s_down'], ['config-epoch', '7']]);
  assert.deepEqual([...fieldMap(new RespError('x'))], []);
  assert.deepEqual([...fieldMap(null)], []);
});

test('ring: pop takes from the tail, across the wrap', () => {
  const r = new Ring<number>(4);
  for (let i = 0; i < 3; i++) r.push(i);
  r.shift();
  r.shift();
  for (let i = 3; i < 6; i++) r.push(i); // wraps
  assert.equal(r.pop(), 5);
  assert.equal(r.pop(), 4);
  assert.deepEqual([r.shift(), r.shift(), r.shift(), r.pop()], [2, 3, undefined, undefined]);
  r.push(9);
  assert.deepEqual([r.length, r.peek(), r.pop(), r.length], [1, 9, 9, 0]);
});
