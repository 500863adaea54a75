import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { isBulwarkError } from '../../src/errors.js';
import { tempDir } from '../helpers/temp.js';

function configError(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    assert.ok(isBulwarkError(error, 'ConfigInvalid'), String(error));
    assert.equal(error.exitCode, 2);
    return error.message;
  }
  assert.fail('expected a configuration error');
}

test('defaults match the command contract', () => {
  const config = loadConfig();
  assert.equal(config.dataDir, './data');
  assert.equal(config.mqttPort, 8883);
  assert.equal(config.apiPort, 8443);
  assert.equal(config.devPort, null);
  assert.equal(config.store.engine, 'sqlite');
  assert.equal(config.region, 'us-east-1');
});

test('file, then BULWARK_* environment, then flags: later sources win', (t) => {
  const dir = tempDir(t);
  const yamlFile = join(dir, 'bulwark.yaml');
  writeFileSync(
    yamlFile,
    'apiPort: 9000\nmqttPort: 9001\nstore:\n  engine: postgres\n  postgres:\n    schema: fleet\nhostNames: [iot.example.com]\n',
  );
  const config = loadConfig({
    file: yamlFile,
    env: { BULWARK_MQTT_PORT: '9101', BULWARK_LOG_LEVEL: 'DEBUG', UNRELATED: 'x' },
    flags: { apiPort: '0' },
  });
  assert.equal(config.apiPort, 0);
  assert.equal(config.mqttPort, 9101);
  assert.equal(config.store.engine, 'postgres');
  assert.equal(config.store.postgres.schema, 'fleet');
  assert.deepEqual(config.hostNames, ['iot.example.com']);
  assert.equal(config.log.level, 'DEBUG');
  const jsonFile = join(dir, 'bulwark.json');
  writeFileSync(jsonFile, JSON.stringify({ store: { sqlite: { synchronous: 'normal' } } }));
  assert.equal(loadConfig({ file: jsonFile }).store.sqlite.synchronous, 'normal');
  assert.deepEqual(loadConfig({ env: { BULWARK_HOST_NAMES: 'a.example, b.example' } }).hostNames, [
    'a.example',
    'b.example',
  ]);
});

test('an invalid value is reported with its key, its value, its source and what is allowed', (t) => {
  assert.equal(
    configError(() => loadConfig({ env: { BULWARK_MQTT_PORT: '70000' } })),
    'invalid configuration: mqttPort = 70000 (from BULWARK_MQTT_PORT): expected at most 65535',
  );
  assert.match(
    configError(() => loadConfig({ env: { BULWARK_STORE_ENGINE: 'mysql' } })),
    /store\.engine = "mysql" \(from BULWARK_STORE_ENGINE\): expected one of "sqlite", "postgres"/,
  );
  assert.match(
    configError(() => loadConfig({ flags: { apiPort: 'https' } })),
    /apiPort = "https" \(from a command-line flag\): expected number/,
  );
  const dir = tempDir(t);
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'store:\n  engin: sqlite\n');
  assert.match(
    configError(() => loadConfig({ file })),
    /unknown setting store\.engin/,
  );
  writeFileSync(file, 'region: mars\n');
  assert.match(
    configError(() => loadConfig({ file })),
    new RegExp(
      `region = "mars" \\(from ${file.replace(/[/.]/g, '\\$&')}\\): expected an AWS-style region`,
    ),
  );
  writeFileSync(file, 'apiPort: [1\n');
  assert.match(
    configError(() => loadConfig({ file })),
    /is not valid YAML/,
  );
  assert.match(
    configError(() => loadConfig({ file: join(dir, 'missing.yaml') })),
    /cannot read config file/,
  );
});
