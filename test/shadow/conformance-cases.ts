// The shadow conformance cases (aws-iot-behaviour §5.2–§5.4): each a sequence of requests on a
// fresh thing and what each must lead to. Every timestamp is written "T" (checked to be epoch
// seconds of the run). conformance.test.ts runs each case over MQTT and over HTTPS.
import type { Operation } from './shadow-faces.js';

export interface Step {
  operation: Operation;
  shadowName?: string;
  payload?: unknown;
  /** The accepted document (for an update, `/update/accepted` and UpdateThingShadow's body). */
  accepted?: unknown;
  /** The status and AWS's message; over MQTT also the rejected document's clientToken. */
  rejected?: { code: number; message: string; clientToken?: string };
  /** The `/update/delta` document, or null when none may be published. */
  delta?: unknown;
  documents?: unknown;
}

export interface ConformanceCase {
  name: string;
  steps: Step[];
  /** Cases only one face can express (a clientToken on GET travels in an MQTT payload only). */
  only?: 'mqtt' | 'https';
}

const T = 'T';
const ts = { timestamp: T };

const update = (payload: unknown, expect: Omit<Step, 'operation' | 'payload'> = {}): Step => ({
  operation: 'update',
  payload,
  ...expect,
});
const get = (expect: Omit<Step, 'operation'> = {}): Step => ({ operation: 'get', ...expect });
const del = (expect: Omit<Step, 'operation'> = {}): Step => ({ operation: 'delete', ...expect });
const rejected = (code: number, message: string, clientToken?: string) => ({
  rejected: { code, message, ...(clientToken !== undefined ? { clientToken } : {}) },
});

/** `{"a": {"a": … 1}}`, `levels` objects deep. */
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let level = 0; level < levels; level++) value = { a: value };
  return value;
}

const tooManyLevels = 'JSON contains too many levels of nesting; maximum is 6';

export const CASES: ConformanceCase[] = [
  // ---- creation and merge ----
  {
    name: 'a first desired update creates version 1, publishes the delta, and has no previous document',
    steps: [
      update(
        { state: { desired: { color: 'red' } } },
        {
          accepted: {
            state: { desired: { color: 'red' } },
            metadata: { desired: { color: ts } },
            version: 1,
            timestamp: T,
          },
          delta: { version: 1, timestamp: T, state: { color: 'red' }, metadata: { color: ts } },
          documents: {
            previous: null,
            current: {
              state: { desired: { color: 'red' } },
              metadata: { desired: { color: ts } },
              version: 1,
            },
            timestamp: T,
          },
        },
      ),
    ],
  },
  {
    name: 'a reported-only update publishes no delta',
    steps: [update({ state: { reported: { temp: 21 } } }, { delta: null })],
  },
  {
    name: 'an update adds fields beside the existing ones',
    steps: [
      update({ state: { reported: { a: 1 } } }),
      update({ state: { reported: { b: 2 } } }),
      get({
        accepted: {
          state: { reported: { a: 1, b: 2 } },
          metadata: { reported: { a: ts, b: ts } },
          version: 2,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'nested objects merge recursively',
    steps: [
      update({ state: { reported: { light: { on: true, level: 3 } } } }),
      update({ state: { reported: { light: { level: 5, hue: 'warm' } } } }),
      get({
        accepted: {
          state: { reported: { light: { on: true, level: 5, hue: 'warm' } } },
          metadata: { reported: { light: { on: ts, level: ts, hue: ts } } },
          version: 2,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'a scalar is replaced by an object',
    steps: [
      update({ state: { reported: { mode: 'auto' } } }),
      update({ state: { reported: { mode: { kind: 'manual' } } } }),
      get({
        accepted: {
          state: { reported: { mode: { kind: 'manual' } } },
          metadata: { reported: { mode: { kind: ts } } },
          version: 2,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'an object is replaced by a scalar',
    steps: [
      update({ state: { reported: { mode: { kind: 'manual' } } } }),
      update({ state: { reported: { mode: 'auto' } } }),
      get({
        accepted: {
          state: { reported: { mode: 'auto' } },
          metadata: { reported: { mode: ts } },
          version: 2,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'a field set to null is deleted',
    steps: [
      update({ state: { reported: { a: 1, b: 2 } } }),
      update(
        { state: { reported: { a: null } } },
        {
          accepted: {
            state: { reported: { a: null } },
            metadata: { reported: { a: ts } },
            version: 2,
            timestamp: T,
          },
        },
      ),
      get({
        accepted: {
          state: { reported: { b: 2 } },
          metadata: { reported: { b: ts } },
          version: 2,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'a nested null deletes only that field',
    steps: [
      update({ state: { reported: { light: { on: true, level: 3 } } } }),
      update({ state: { reported: { light: { level: null } } } }),
      get({
        accepted: {
          state: { reported: { light: { on: true } } },
          metadata: { reported: { light: { on: ts } } },
          version: 2,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'null for a field that does not exist is accepted and still counts as an update',
    steps: [
      update({ state: { reported: { a: 1 } } }),
      update(
        { state: { reported: { missing: null } } },
        {
          accepted: {
            state: { reported: { missing: null } },
            metadata: { reported: { missing: ts } },
            version: 2,
            timestamp: T,
          },
        },
      ),
    ],
  },
  {
    name: 'desired: null removes the desired section and with it the delta',
    steps: [
      update({ state: { desired: { a: 1 }, reported: { a: 2 } } }),
      update({ state: { desired: null } }, { delta: null }),
      get({
        accepted: {
          state: { reported: { a: 2 } },
          metadata: { reported: { a: ts } },
          version: 2,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'reported: null removes the reported section',
    steps: [
      update({ state: { reported: { a: 1 } } }),
      update({ state: { reported: null } }),
      get({ accepted: { state: {}, metadata: {}, version: 2, timestamp: T } }),
    ],
  },
  {
    name: 'state: null clears both sections; the shadow remains and its version increments',
    steps: [
      update({ state: { desired: { a: 1 }, reported: { b: 2 } } }),
      update({ state: null }, { delta: null }),
      get({ accepted: { state: {}, metadata: {}, version: 2, timestamp: T } }),
    ],
  },
  {
    name: 'a section whose last field is deleted is dropped',
    steps: [
      update({ state: { desired: { a: 1 }, reported: { b: 2 } } }),
      update({ state: { desired: { a: null } } }),
      get({
        accepted: {
          state: { reported: { b: 2 } },
          metadata: { reported: { b: ts } },
          version: 2,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'an empty state is accepted and increments the version',
    steps: [
      update({ state: { reported: { a: 1 } } }),
      update({ state: {} }, { accepted: { state: {}, metadata: {}, version: 2, timestamp: T } }),
    ],
  },
  {
    name: 'desired and reported in one update',
    steps: [
      update(
        { state: { desired: { a: 1 }, reported: { a: 1 } } },
        {
          accepted: {
            state: { desired: { a: 1 }, reported: { a: 1 } },
            metadata: { desired: { a: ts }, reported: { a: ts } },
            version: 1,
            timestamp: T,
          },
          delta: null,
        },
      ),
    ],
  },
  {
    name: 'unicode keys and values are kept exactly',
    steps: [
      update({ state: { reported: { température: '21 °C', 名前: 'ランプ' } } }),
      get({
        accepted: {
          state: { reported: { température: '21 °C', 名前: 'ランプ' } },
          metadata: { reported: { température: ts, 名前: ts } },
          version: 1,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'a __proto__ key is stored as data, like any other key',
    steps: [
      update(JSON.parse('{"state":{"reported":{"__proto__":{"polluted":true},"a":1}}}')),
      get({
        accepted: JSON.parse(
          '{"state":{"reported":{"__proto__":{"polluted":true},"a":1}},"metadata":{"reported":{"__proto__":{"polluted":{"timestamp":"T"}},"a":{"timestamp":"T"}}},"version":1,"timestamp":"T"}',
        ),
      }),
    ],
  },
  {
    name: 'numbers, booleans and strings keep their types',
    steps: [
      update({ state: { reported: { f: 1.5, n: -3, big: 9007199254740991, yes: false, s: '1' } } }),
      get({
        accepted: {
          state: { reported: { f: 1.5, n: -3, big: 9007199254740991, yes: false, s: '1' } },
          metadata: { reported: { f: ts, n: ts, big: ts, yes: ts, s: ts } },
          version: 1,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'only the fields an update touches get new metadata',
    steps: [
      update({ state: { reported: { a: 1, b: 1 } } }),
      update(
        { state: { reported: { b: 2 } } },
        {
          accepted: {
            state: { reported: { b: 2 } },
            metadata: { reported: { b: ts } },
            version: 2,
            timestamp: T,
          },
        },
      ),
    ],
  },

  // ---- arrays ----
  {
    name: 'an array is replaced whole, not merged',
    steps: [
      update({ state: { reported: { list: [1, 2, 3] } } }),
      update({ state: { reported: { list: [9] } } }),
      get({
        accepted: {
          state: { reported: { list: [9] } },
          metadata: { reported: { list: [ts] } },
          version: 2,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'an array of objects is replaced whole',
    steps: [
      update({ state: { reported: { items: [{ id: 1, on: true }, { id: 2 }] } } }),
      update({ state: { reported: { items: [{ id: 3 }] } } }),
      get({
        accepted: {
          state: { reported: { items: [{ id: 3 }] } },
          metadata: { reported: { items: [{ id: ts }] } },
          version: 2,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'array metadata has one entry per element',
    steps: [
      update(
        { state: { desired: { list: ['a', 'b'] } } },
        {
          accepted: {
            state: { desired: { list: ['a', 'b'] } },
            metadata: { desired: { list: [ts, ts] } },
            version: 1,
            timestamp: T,
          },
        },
      ),
    ],
  },
  {
    name: 'an array containing null is refused',
    steps: [update({ state: { reported: { list: [1, null] } } }, rejected(400, 'Invalid JSON'))],
  },
  {
    name: 'a null inside an object inside an array is refused',
    steps: [update({ state: { desired: { list: [{ a: null }] } } }, rejected(400, 'Invalid JSON'))],
  },
  {
    name: 'an empty array is a value like any other',
    steps: [
      update({ state: { reported: { list: [] } } }),
      get({
        accepted: {
          state: { reported: { list: [] } },
          metadata: { reported: { list: [] } },
          version: 1,
          timestamp: T,
        },
      }),
    ],
  },

  // ---- delta ----
  {
    name: 'the delta holds only the desired fields reported differs on',
    steps: [
      update({ state: { reported: { color: 'green', level: 3 } } }),
      update(
        { state: { desired: { color: 'red', level: 3 } } },
        {
          delta: { version: 2, timestamp: T, state: { color: 'red' }, metadata: { color: ts } },
        },
      ),
    ],
  },
  {
    name: 'no delta when desired equals reported, in GET too',
    steps: [
      update({ state: { reported: { color: 'red' } } }),
      update({ state: { desired: { color: 'red' } } }, { delta: null }),
      get({
        accepted: {
          state: { desired: { color: 'red' }, reported: { color: 'red' } },
          metadata: { desired: { color: ts }, reported: { color: ts } },
          version: 2,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'fields only in reported are never in the delta',
    steps: [
      update({ state: { reported: { a: 1, extra: true } } }),
      update(
        { state: { desired: { a: 2 } } },
        { delta: { version: 2, timestamp: T, state: { a: 2 }, metadata: { a: ts } } },
      ),
    ],
  },
  {
    name: 'a nested difference keeps its path to the root',
    steps: [
      update({ state: { reported: { light: { on: true, level: 1 } } } }),
      update(
        { state: { desired: { light: { on: true, level: 4 } } } },
        {
          delta: {
            version: 2,
            timestamp: T,
            state: { light: { level: 4 } },
            metadata: { light: { level: ts } },
          },
        },
      ),
    ],
  },
  {
    name: 'equal arrays are no difference',
    steps: [
      update({ state: { reported: { list: [1, { a: 2 }] } } }),
      update({ state: { desired: { list: [1, { a: 2 }] } } }, { delta: null }),
    ],
  },
  {
    name: 'arrays in another order differ',
    steps: [
      update({ state: { reported: { list: [1, 2] } } }),
      update(
        { state: { desired: { list: [2, 1] } } },
        {
          delta: {
            version: 2,
            timestamp: T,
            state: { list: [2, 1] },
            metadata: { list: [ts, ts] },
          },
        },
      ),
    ],
  },
  {
    name: 'the delta carries every differing desired field, not only those of this update',
    steps: [
      update({ state: { desired: { a: 1, b: 2 } } }),
      update(
        { state: { reported: { c: 3 } } },
        {
          delta: {
            version: 2,
            timestamp: T,
            state: { a: 1, b: 2 },
            metadata: { a: ts, b: ts },
          },
        },
      ),
    ],
  },
  {
    name: 'an object desired against a scalar reported is in the delta whole',
    steps: [
      update({ state: { reported: { mode: 'off' } } }),
      update(
        { state: { desired: { mode: { kind: 'eco', level: 2 } } } },
        {
          delta: {
            version: 2,
            timestamp: T,
            state: { mode: { kind: 'eco', level: 2 } },
            metadata: { mode: { kind: ts, level: ts } },
          },
        },
      ),
    ],
  },
  {
    name: 'reported catching up with desired ends the delta',
    steps: [
      update({ state: { desired: { color: 'red' } } }),
      update({ state: { reported: { color: 'red' } } }, { delta: null }),
      get({
        accepted: {
          state: { desired: { color: 'red' }, reported: { color: 'red' } },
          metadata: { desired: { color: ts }, reported: { color: ts } },
          version: 2,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'GET returns the delta beside desired and reported',
    steps: [
      update({ state: { desired: { a: 1, b: 2 }, reported: { a: 1, b: 3 } } }),
      get({
        accepted: {
          state: { desired: { a: 1, b: 2 }, reported: { a: 1, b: 3 }, delta: { b: 2 } },
          metadata: { desired: { a: ts, b: ts }, reported: { a: ts, b: ts } },
          version: 1,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'a type difference (1 against "1") is a difference',
    steps: [
      update({ state: { reported: { v: 1 } } }),
      update(
        { state: { desired: { v: '1' } } },
        { delta: { version: 2, timestamp: T, state: { v: '1' }, metadata: { v: ts } } },
      ),
    ],
  },

  // ---- versions ----
  {
    name: 'every accepted update increments the version by one',
    steps: [
      update({ state: { reported: { a: 1 } } }),
      update({ state: { reported: { a: 1 } } }),
      update(
        { state: { reported: { a: 1 } } },
        {
          accepted: {
            state: { reported: { a: 1 } },
            metadata: { reported: { a: ts } },
            version: 3,
            timestamp: T,
          },
        },
      ),
    ],
  },
  {
    name: 'an update naming the current version is accepted',
    steps: [
      update({ state: { reported: { a: 1 } } }),
      update(
        { state: { reported: { a: 2 } }, version: 1 },
        {
          accepted: {
            state: { reported: { a: 2 } },
            metadata: { reported: { a: ts } },
            version: 2,
            timestamp: T,
          },
        },
      ),
    ],
  },
  {
    name: 'an update naming another version is a conflict and changes nothing',
    steps: [
      update({ state: { reported: { a: 1 } } }),
      update({ state: { reported: { a: 2 } }, version: 5 }, rejected(409, 'Version conflict')),
      get({
        accepted: {
          state: { reported: { a: 1 } },
          metadata: { reported: { a: ts } },
          version: 1,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'a version that is not a number is invalid',
    steps: [
      update({ state: { reported: { a: 1 } }, version: '1' }, rejected(400, 'Invalid version')),
    ],
  },
  {
    name: 'a negative version is invalid',
    steps: [
      update({ state: { reported: { a: 1 } }, version: -1 }, rejected(400, 'Invalid version')),
    ],
  },
  {
    name: 'a fractional version is invalid',
    steps: [
      update({ state: { reported: { a: 1 } }, version: 1.5 }, rejected(400, 'Invalid version')),
    ],
  },
  {
    name: 'delete answers with the deleted version, and GET then finds nothing',
    steps: [
      update({ state: { reported: { a: 1 } } }),
      update({ state: { reported: { a: 2 } } }),
      del({ accepted: { version: 2, timestamp: T } }),
      get(rejected(404, "No shadow exists with name: '{thing}'")),
    ],
  },
  {
    name: 'a shadow re-created after a delete continues the version',
    steps: [
      update({ state: { reported: { a: 1 } } }),
      update({ state: { reported: { a: 2 } } }),
      del(),
      update(
        { state: { reported: { b: 1 } } },
        {
          accepted: {
            state: { reported: { b: 1 } },
            metadata: { reported: { b: ts } },
            version: 3,
            timestamp: T,
          },
          documents: {
            previous: null,
            current: {
              state: { reported: { b: 1 } },
              metadata: { reported: { b: ts } },
              version: 3,
            },
            timestamp: T,
          },
        },
      ),
    ],
  },
  {
    name: 'deleting a shadow that does not exist is 404',
    steps: [del(rejected(404, "No shadow exists with name: '{thing}'"))],
  },
  {
    name: 'deleting twice: the second is 404',
    steps: [
      update({ state: { reported: { a: 1 } } }),
      del(),
      del(rejected(404, "No shadow exists with name: '{thing}'")),
    ],
  },
  {
    name: 'documents carry the previous and current versions, neither with a delta',
    steps: [
      update({ state: { desired: { a: 1 } } }),
      update(
        { state: { reported: { a: 0 } } },
        {
          documents: {
            previous: {
              state: { desired: { a: 1 } },
              metadata: { desired: { a: ts } },
              version: 1,
            },
            current: {
              state: { desired: { a: 1 }, reported: { a: 0 } },
              metadata: { desired: { a: ts }, reported: { a: ts } },
              version: 2,
            },
            timestamp: T,
          },
        },
      ),
    ],
  },
  {
    name: 'a conflicting update publishes neither delta nor documents',
    steps: [
      update({ state: { desired: { a: 1 } } }),
      update({ state: { desired: { a: 2 } }, version: 0 }, rejected(409, 'Version conflict')),
      update(
        { state: { desired: { a: 3 } }, version: 1 },
        {
          documents: {
            previous: {
              state: { desired: { a: 1 } },
              metadata: { desired: { a: ts } },
              version: 1,
            },
            current: { state: { desired: { a: 3 } }, metadata: { desired: { a: ts } }, version: 2 },
            timestamp: T,
          },
        },
      ),
    ],
  },

  // ---- request errors ----
  {
    name: 'a body that is not JSON',
    steps: [update(Buffer.from('{"state": '), rejected(400, 'Invalid JSON'))],
  },
  {
    name: 'a JSON array instead of an object',
    steps: [update([{ state: {} }], rejected(400, 'Invalid JSON'))],
  },
  {
    name: 'no state node',
    steps: [update({ desired: { a: 1 } }, rejected(400, 'Missing required node: state'))],
  },
  {
    name: 'state as a string',
    steps: [update({ state: 'on' }, rejected(400, 'State node must be an object'))],
  },
  {
    name: 'state as an array',
    steps: [update({ state: [1] }, rejected(400, 'State node must be an object'))],
  },
  {
    name: 'desired as a number',
    steps: [update({ state: { desired: 5 } }, rejected(400, 'Desired node must be an object'))],
  },
  {
    name: 'reported as an array',
    steps: [
      update({ state: { reported: [1, 2] } }, rejected(400, 'Reported node must be an object')),
    ],
  },
  {
    name: 'a node under state other than desired and reported',
    steps: [
      update({ state: { delta: { a: 1 } } }, rejected(400, 'State contains an invalid node')),
    ],
  },
  {
    name: 'a clientToken longer than 64 bytes',
    steps: [
      update(
        { state: { reported: { a: 1 } }, clientToken: 'x'.repeat(65) },
        rejected(400, 'Invalid clientToken'),
      ),
    ],
  },
  {
    name: 'a clientToken of multibyte characters is measured in bytes',
    steps: [
      update(
        { state: { reported: { a: 1 } }, clientToken: 'é'.repeat(33) },
        rejected(400, 'Invalid clientToken'),
      ),
    ],
  },
  {
    name: 'a body that is not UTF-8',
    steps: [
      update(
        Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
        rejected(415, 'Unsupported documented encoding; supported encoding is UTF-8'),
      ),
    ],
  },
  {
    name: 'GET of a classic shadow that does not exist names the thing',
    steps: [get(rejected(404, "No shadow exists with name: '{thing}'"))],
  },
  {
    name: 'GET of a named shadow that does not exist names the shadow',
    steps: [
      get({ shadowName: 'settings', ...rejected(404, "No shadow exists with name: 'settings'") }),
    ],
  },
  {
    name: 'a rejected update echoes the clientToken',
    only: 'mqtt',
    steps: [
      update(
        { state: 'x', clientToken: 'tok-9' },
        rejected(400, 'State node must be an object', 'tok-9'),
      ),
    ],
  },

  // ---- limits ----
  {
    name: 'six levels of nesting are accepted',
    steps: [update({ state: { desired: nested(6) } })],
  },
  {
    name: 'seven levels of nesting are refused',
    steps: [update({ state: { reported: nested(7) } }, rejected(400, tooManyLevels))],
  },
  {
    name: 'arrays count as levels of nesting',
    steps: [
      update(
        { state: { reported: { a: { b: { c: { d: { e: [[1]] } } } } } } },
        rejected(400, tooManyLevels),
      ),
    ],
  },
  {
    name: 'state over 8 KB is refused with 413',
    steps: [
      update(
        { state: { reported: { blob: 'x'.repeat(8 * 1024) } } },
        rejected(413, 'The payload exceeds the maximum size allowed'),
      ),
    ],
  },
  {
    name: 'state just under 8 KB is accepted',
    steps: [update({ state: { reported: { blob: 'x'.repeat(8 * 1024 - 32) } } })],
  },
  {
    name: 'the size limit applies to the merged state, not only the request',
    steps: [
      update({ state: { reported: { a: 'x'.repeat(5000) } } }),
      update(
        { state: { desired: { b: 'y'.repeat(5000) } } },
        rejected(413, 'The payload exceeds the maximum size allowed'),
      ),
      get({
        accepted: {
          state: { reported: { a: 'x'.repeat(5000) } },
          metadata: { reported: { a: ts } },
          version: 1,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'metadata does not count towards the size limit',
    steps: [
      // About 5 KB of state in many small fields, whose metadata alone is over 8 KB.
      update({
        state: {
          reported: Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`k${i}`, i % 10])),
        },
      }),
    ],
  },
  {
    name: 'a clientToken of exactly 64 bytes is accepted and echoed',
    steps: [
      update(
        { state: { reported: { a: 1 } }, clientToken: 'c'.repeat(64) },
        {
          accepted: {
            state: { reported: { a: 1 } },
            metadata: { reported: { a: ts } },
            version: 1,
            timestamp: T,
            clientToken: 'c'.repeat(64),
          },
        },
      ),
    ],
  },

  // ---- named shadows and clientToken ----
  {
    name: 'a named shadow is independent of the classic shadow',
    steps: [
      update({ state: { reported: { a: 1 } } }, { shadowName: 'config' }),
      get(rejected(404, "No shadow exists with name: '{thing}'")),
      get({
        shadowName: 'config',
        accepted: {
          state: { reported: { a: 1 } },
          metadata: { reported: { a: ts } },
          version: 1,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'two named shadows keep their own versions',
    steps: [
      update({ state: { reported: { a: 1 } } }, { shadowName: 'one' }),
      update({ state: { reported: { a: 2 } } }, { shadowName: 'one' }),
      update(
        { state: { reported: { b: 1 } } },
        {
          shadowName: 'two',
          accepted: {
            state: { reported: { b: 1 } },
            metadata: { reported: { b: ts } },
            version: 1,
            timestamp: T,
          },
        },
      ),
    ],
  },
  {
    name: 'a named shadow publishes its delta on its own topics',
    steps: [
      update(
        { state: { desired: { fan: 'high' } } },
        {
          shadowName: 'hvac',
          delta: { version: 1, timestamp: T, state: { fan: 'high' }, metadata: { fan: ts } },
        },
      ),
    ],
  },
  {
    name: 'a named shadow is deleted alone',
    steps: [
      update({ state: { reported: { a: 1 } } }),
      update({ state: { reported: { a: 1 } } }, { shadowName: 'extra' }),
      del({ shadowName: 'extra', accepted: { version: 1, timestamp: T } }),
      get({ shadowName: 'extra', ...rejected(404, "No shadow exists with name: 'extra'") }),
      get({
        accepted: {
          state: { reported: { a: 1 } },
          metadata: { reported: { a: ts } },
          version: 1,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'a named shadow re-created after a delete continues its version',
    steps: [
      update({ state: { reported: { a: 1 } } }, { shadowName: 's' }),
      del({ shadowName: 's' }),
      update(
        { state: { reported: { a: 1 } } },
        {
          shadowName: 's',
          accepted: {
            state: { reported: { a: 1 } },
            metadata: { reported: { a: ts } },
            version: 2,
            timestamp: T,
          },
        },
      ),
    ],
  },
  {
    name: 'shadow names with every allowed character',
    steps: [
      update({ state: { reported: { a: 1 } } }, { shadowName: 'Aa0:_-z' }),
      get({
        shadowName: 'Aa0:_-z',
        accepted: {
          state: { reported: { a: 1 } },
          metadata: { reported: { a: ts } },
          version: 1,
          timestamp: T,
        },
      }),
    ],
  },
  {
    name: 'the clientToken is echoed in accepted, delta and documents',
    steps: [
      update(
        { state: { desired: { a: 1 } }, clientToken: 'abc' },
        {
          accepted: {
            state: { desired: { a: 1 } },
            metadata: { desired: { a: ts } },
            version: 1,
            timestamp: T,
            clientToken: 'abc',
          },
          delta: {
            version: 1,
            timestamp: T,
            state: { a: 1 },
            metadata: { a: ts },
            clientToken: 'abc',
          },
          documents: {
            previous: null,
            current: { state: { desired: { a: 1 } }, metadata: { desired: { a: ts } }, version: 1 },
            timestamp: T,
            clientToken: 'abc',
          },
        },
      ),
    ],
  },
  {
    name: 'GET and delete over MQTT echo the clientToken',
    only: 'mqtt',
    steps: [
      update({ state: { reported: { a: 1 } } }),
      get({
        payload: { clientToken: 'g1' },
        accepted: {
          state: { reported: { a: 1 } },
          metadata: { reported: { a: ts } },
          version: 1,
          timestamp: T,
          clientToken: 'g1',
        },
      }),
      del({
        payload: { clientToken: 'd1' },
        accepted: { version: 1, timestamp: T, clientToken: 'd1' },
      }),
    ],
  },
  {
    name: 'an empty GET request body over MQTT is allowed',
    only: 'mqtt',
    steps: [
      update({ state: { reported: { a: 1 } } }),
      get({
        payload: Buffer.alloc(0),
        accepted: {
          state: { reported: { a: 1 } },
          metadata: { reported: { a: ts } },
          version: 1,
          timestamp: T,
        },
      }),
    ],
  },
];
