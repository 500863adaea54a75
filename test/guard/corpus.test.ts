import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema } from '../../src/config/index.js';
import { Guard } from '../../src/guard/index.js';
import { corpus, type CorpusEntry } from './corpus.js';

const MIN_RECALL = 0.98;
const MIN_PRECISION = 0.95;

interface Tally {
  /** Detections whose detector the entry expects, and those it does not. */
  truePositives: number;
  falsePositives: number;
  /** Expected detector ids, and how many of them were found. */
  expected: number;
  found: number;
}

function ratio(part: number, whole: number): number {
  return whole === 0 ? 1 : part / whole;
}

/** An entry named in a failure message: its position, note and a short start of its text. */
function described(index: number, entry: CorpusEntry): string {
  const start = entry.text.length > 48 ? `${entry.text.slice(0, 48)}…` : entry.text;
  return `#${index} ${JSON.stringify(start)}${entry.note ? ` (${entry.note})` : ''}`;
}

test('the labelled corpus: precision and recall of every built-in detector', () => {
  const detectors = new Guard(configSchema.parse({}).guard).detectors;
  assert.ok(corpus.length >= 300, `the corpus holds ${corpus.length} strings`);

  const tallies = new Map<string, Tally>(
    detectors.detectors.map((detector) => [
      detector.id,
      { truePositives: 0, falsePositives: 0, expected: 0, found: 0 },
    ]),
  );
  const mistakes: string[] = [];
  corpus.forEach((entry, index) => {
    const detections = detectors.detect(entry.text, entry.field);
    const foundIds = new Set(detections.map((detection) => detection.detector.id));
    for (const { detector } of detections) {
      const tally = tallies.get(detector.id);
      assert.ok(tally);
      if (entry.expect.includes(detector.id)) tally.truePositives += 1;
      else {
        tally.falsePositives += 1;
        mistakes.push(`false positive ${detector.id}: ${described(index, entry)}`);
      }
    }
    for (const id of entry.expect) {
      const tally = tallies.get(id);
      assert.ok(tally, `entry ${index} expects ${id}, which is no detector`);
      tally.expected += 1;
      if (foundIds.has(id)) tally.found += 1;
      else mistakes.push(`missed ${id}: ${described(index, entry)}`);
    }
  });

  const rows = [...tallies].map(([id, tally]) => ({
    detector: id,
    positives: tally.expected,
    precision: ratio(tally.truePositives, tally.truePositives + tally.falsePositives),
    recall: ratio(tally.found, tally.expected),
  }));
  const total = [...tallies.values()].reduce(
    (sum, tally) => ({
      truePositives: sum.truePositives + tally.truePositives,
      falsePositives: sum.falsePositives + tally.falsePositives,
      expected: sum.expected + tally.expected,
      found: sum.found + tally.found,
    }),
    { truePositives: 0, falsePositives: 0, expected: 0, found: 0 },
  );
  const overall = {
    detector: 'OVERALL',
    positives: total.expected,
    precision: ratio(total.truePositives, total.truePositives + total.falsePositives),
    recall: ratio(total.found, total.expected),
  };
  const negatives = corpus.filter((entry) => entry.expect.length === 0).length;
  console.log(
    `corpus: ${corpus.length} strings, ${negatives} negatives, ${total.expected} expected detections`,
  );
  console.log(
    [...rows, overall]
      .map(
        (row) =>
          `${row.detector.padEnd(30)} ${String(row.positives).padStart(4)}  precision ${row.precision.toFixed(3)}  recall ${row.recall.toFixed(3)}`,
      )
      .join('\n'),
  );
  if (mistakes.length > 0) console.log(mistakes.join('\n'));

  for (const row of [...rows, overall]) {
    assert.ok(row.positives > 0, `${row.detector} has no true positive in the corpus`);
    assert.ok(row.recall >= MIN_RECALL, `${row.detector} recall ${row.recall.toFixed(3)}`);
    assert.ok(
      row.precision >= MIN_PRECISION,
      `${row.detector} precision ${row.precision.toFixed(3)}`,
    );
  }
});
